#!/bin/bash
#SBATCH --gres=gpu:1
#SBATCH --mem=1.5G
python train.py
