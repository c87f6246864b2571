#!/bin/bash
#SBATCH --nodes=4
#SBATCH --gres=gpu:4
#SBATCH --constraint=[rack1|rack2]
#SBATCH --time=10:00:00
srun python train.py
