0#!/bin/sh
#SBATCH --job-name='a b\ c' --comment="x#y"
#SLURM -t 5:00
echo
