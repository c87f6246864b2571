0#!/bin/sh
#KOJO --project vision --gpus 1 --gpu-milli 250
#KOJO --env "MSG=hello world" --hold
#SBATCH --mem-per-gpu=16000 -t 90
echo "$MSG"
