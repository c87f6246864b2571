#!/bin/bash
#SBATCH -G 1
#SBATCH -n 1
#SBATCH -c 16
#SBATCH --mem-per-cpu=2000M
#SBATCH -t 0-06

python preprocess.py
