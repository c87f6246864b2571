#!/bin/bash
#SBATCH -t1-12:30
#SBATCH --job sweep-a
#SBATCH -c8
#SBATCH --mem 16384
#SBATCH -G a100:1
python train.py
