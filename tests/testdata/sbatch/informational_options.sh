#!/bin/bash
#SBATCH --job-name=long-train
#SBATCH --gres=gpu:4
#SBATCH --mail-type=END,FAIL
#SBATCH --mail-user=ada@example.org
#SBATCH --qos=high
#SBATCH --licenses=matlab:1
#SBATCH --signal=B:USR1@120
#SBATCH -t 2-00:00:00
trap 'touch checkpoint.request' USR1
python train.py &
wait
