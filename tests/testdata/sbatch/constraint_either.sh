#!/bin/bash
#SBATCH --gpus=2
#SBATCH --constraint="a100|h100"
#SBATCH -t 6:00:00
python train.py
