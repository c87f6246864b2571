#!/bin/bash
#SBATCH -N 2
#SBATCH --ntasks-per-node=8
#SBATCH --gres=gpu:8
#SBATCH -c 4
#SBATCH --mem-per-cpu=4G
#SBATCH -t 2-00:00:00
#SBATCH -A nlp

srun python -u pretrain.py
