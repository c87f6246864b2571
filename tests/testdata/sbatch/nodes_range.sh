#!/bin/bash
#SBATCH --nodes=2-4
#SBATCH --gpus-per-node=2
srun python train.py
