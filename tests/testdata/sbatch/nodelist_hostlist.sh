#!/bin/bash
#SBATCH -N 2
#SBATCH --gpus-per-node=4
#SBATCH --nodelist=gpu[01-02]
#SBATCH -t 4:00:00
srun python train.py
