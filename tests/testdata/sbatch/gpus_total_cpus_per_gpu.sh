#!/bin/bash
#SBATCH --gpus=h100:4
#SBATCH --cpus-per-gpu=12
#SBATCH --mem=480000
#SBATCH --time=90

python train.py --devices 4
