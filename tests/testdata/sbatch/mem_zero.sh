#!/bin/bash
#SBATCH --gres=gpu:8
#SBATCH --mem=0
#SBATCH --exclusive
srun python train.py
