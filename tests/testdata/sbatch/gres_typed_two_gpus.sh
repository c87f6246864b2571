#!/bin/bash
#SBATCH -J llama-lora
#SBATCH --gres=gpu:a100:2
#SBATCH --mem=64gb
#SBATCH -t 1-12:00:00
#SBATCH -c 16

srun python train_lora.py
