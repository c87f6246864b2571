#!/bin/bash
#SBATCH --job-name=eval
#SBATCH --gpus=1
#SBATCH --output=/scratch/%u/%x/%j.out
#SBATCH --error=/scratch/%u/%x/%J.err
python evaluate.py
