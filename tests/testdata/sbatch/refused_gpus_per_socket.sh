#!/bin/bash
#SBATCH --sockets-per-node=2
#SBATCH --gpus-per-socket=2
python train.py
