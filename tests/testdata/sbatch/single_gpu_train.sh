#!/bin/bash
#SBATCH --job-name=bert-finetune
#SBATCH --gres=gpu:1
#SBATCH --cpus-per-task=8
#SBATCH --mem=32G
#SBATCH --time=2:30:00
#SBATCH --output=logs/%x-%j.out

module load cuda
python finetune.py --epochs 3
