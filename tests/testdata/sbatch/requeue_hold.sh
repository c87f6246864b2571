#!/bin/bash
#SBATCH --requeue
#SBATCH --hold
#SBATCH --gres=gpu:1
#SBATCH -D /scratch/ada/run7
python train.py --resume
