#!/bin/bash
# Data-parallel training on 1..N nodes, one process per device. Run it once on every node.
set -euo pipefail

usage() {
  cat <<USAGE
Usage: bash scripts/run_distribute_train.sh LAUNCHER DEVICE_NUM DEVICE_TARGET CONFIG_PATH OUTPUT_DIR [--key value ...]
  LAUNCHER       msrun                 MindSpore's launcher (Ascend, GPU, CPU; one or more nodes)
                 mpirun                OpenMPI (GPU, one node)
                 /path/to/rank_table.json
                                       Ascend with an HCCL rank table (tools/rank_table.py makes one)
  DEVICE_NUM     devices (processes) on this node
  DEVICE_TARGET  Ascend | GPU | CPU
  CONFIG_PATH    a yaml of config keys; batch_size is per device, the lr scales with the global batch
  OUTPUT_DIR     global rank 0 writes checkpoints, train_log.jsonl and config.yaml here. With several nodes it
                 must be shared storage for --resume last to work on every node.
  --key value    further train.py overrides (--data_root, --train_list, --val_list, --pretrained, ...)
Environment (defaults for one node):
  NODE_NUM (1), NODE_RANK (0)   nodes in the job and this node's index (0 runs the msrun scheduler)
  MASTER_ADDR (127.0.0.1)       msrun: address of node 0, as every node sees it
  MASTER_PORT (8118)            msrun: scheduler port on node 0
  DEVICE_START (0)              first device of this node (rank table: DEVICE_ID = DEVICE_START + local rank;
                                msrun on Ascend/GPU: the visible devices start there)
  RANK_START                    rank table: first global rank of this node (default: read from the table, server
                                number NODE_RANK, or the server named SERVER_ID)
  HCCL_CONNECT_TIMEOUT (600)    seconds ranks wait for each other at a collective
  WORK_DIR (OUTPUT_DIR/work)    each rank runs in WORK_DIR/rank_<global rank> (compiler caches, env.log)
  PYTHON (python3 from PATH)    the interpreter; DRY_RUN=1 prints what would start and starts nothing
Logs: OUTPUT_DIR/log/node_<NODE_RANK>/worker_<global rank>.log (msrun), .../rank_<global rank>.log (rank table).
Examples (Ascend, 8 devices per server; on node 1 of 2 the same command with NODE_RANK=1):
  bash scripts/run_distribute_train.sh msrun 8 Ascend default_config.yaml /shared/runs/tsm_r50 --data_root ...
  NODE_NUM=2 NODE_RANK=0 MASTER_ADDR=10.0.0.1 bash scripts/run_distribute_train.sh msrun 8 Ascend \\
      default_config.yaml /shared/runs/tsm_r50 --data_root ...
  NODE_RANK=0 bash scripts/run_distribute_train.sh /shared/rank_table_16p.json 8 Ascend default_config.yaml ...
  bash scripts/run_distribute_train.sh mpirun 8 GPU default_config.yaml /runs/tsm_r50 --data_root ...
USAGE
}

if [ $# -lt 5 ]; then usage; exit 1; fi
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
abspath() { case "$1" in /*) echo "$1";; *) echo "$PWD/$1";; esac; }
is_count() { [[ "$1" =~ ^[0-9]+$ ]]; }
LAUNCHER=$1
DEVICE_NUM=$2
DEVICE_TARGET=$3
CONFIG_PATH=$(abspath "$4")
OUTPUT_DIR=$(abspath "$5")
shift 5
NODE_NUM=${NODE_NUM:-1}
NODE_RANK=${NODE_RANK:-0}
MASTER_ADDR=${MASTER_ADDR:-127.0.0.1}
MASTER_PORT=${MASTER_PORT:-8118}
DEVICE_START=${DEVICE_START:-0}
[[ "$DEVICE_NUM" =~ ^[1-9][0-9]*$ ]] || { echo "DEVICE_NUM must be a positive number, got '$DEVICE_NUM'"; exit 1; }
[[ "$NODE_NUM" =~ ^[1-9][0-9]*$ ]] || { echo "NODE_NUM must be a positive number, got '$NODE_NUM'"; exit 1; }
is_count "$NODE_RANK" && [ "$NODE_RANK" -lt "$NODE_NUM" ] || {
  echo "NODE_RANK must be 0..$((NODE_NUM - 1)) (NODE_NUM=$NODE_NUM), got '$NODE_RANK'"; exit 1; }
is_count "$MASTER_PORT" || { echo "MASTER_PORT must be a number, got '$MASTER_PORT'"; exit 1; }
is_count "$DEVICE_START" || { echo "DEVICE_START must be a number, got '$DEVICE_START'"; exit 1; }
case "$DEVICE_TARGET" in Ascend|GPU|CPU) ;; *) echo "DEVICE_TARGET must be Ascend, GPU or CPU"; exit 1;; esac
[ -f "$CONFIG_PATH" ] || { echo "config file not found: $CONFIG_PATH"; exit 1; }
PYTHON=$(command -v "${PYTHON:-python3}") || { echo "python interpreter not found: ${PYTHON:-python3}"; exit 1; }
# msrun and mpirun start a bare `python`: put the chosen interpreter's directory first on PATH.
export PATH="$(dirname "$PYTHON"):$PATH"
export HCCL_CONNECT_TIMEOUT=${HCCL_CONNECT_TIMEOUT:-600}
export TSM_RANK_WORKDIR=$(abspath "${WORK_DIR:-$OUTPUT_DIR/work}")
LOG_DIR="$OUTPUT_DIR/log/node_$NODE_RANK"
ARGS=(--config_path "$CONFIG_PATH" --device_target "$DEVICE_TARGET" --output_dir "$OUTPUT_DIR" "$@")
run() {  # run "$@", or only show it with DRY_RUN=1
  if [ "${DRY_RUN:-0}" = 1 ]; then echo "DRY_RUN: $*"; else "$@"; fi
}
if [ "${DRY_RUN:-0}" != 1 ]; then mkdir -p "$LOG_DIR" "$TSM_RANK_WORKDIR"; fi

case "$LAUNCHER" in
  msrun)
    WORKER_NUM=$((NODE_NUM * DEVICE_NUM))
    if [ -n "${DEVICE_START:-}" ] && [ "$DEVICE_START" != 0 ]; then  # msrun gives local ranks devices 0..N-1
      VISIBLE=$(seq -s, "$DEVICE_START" $((DEVICE_START + DEVICE_NUM - 1)))
      case "$DEVICE_TARGET" in Ascend) export ASCEND_RT_VISIBLE_DEVICES=$VISIBLE;;
                               GPU) export CUDA_VISIBLE_DEVICES=$VISIBLE;; esac
    fi
    echo "msrun: node $NODE_RANK of $NODE_NUM, ranks $((NODE_RANK * DEVICE_NUM))..$(((NODE_RANK + 1) * DEVICE_NUM - 1))" \
         "of $WORKER_NUM, master $MASTER_ADDR:$MASTER_PORT, logs: $LOG_DIR/worker_<rank>.log"
    run msrun --worker_num="$WORKER_NUM" --local_worker_num="$DEVICE_NUM" --master_addr="$MASTER_ADDR" \
              --master_port="$MASTER_PORT" --node_rank="$NODE_RANK" --log_dir="$LOG_DIR" --join=True \
              "$ROOT/train.py" "${ARGS[@]}"
    ;;
  mpirun)
    [ "$DEVICE_TARGET" != "Ascend" ] || { echo "use msrun or a rank table on Ascend"; exit 1; }
    [ "$NODE_NUM" = 1 ] || { echo "mpirun here is for one node; use msrun for several"; exit 1; }
    echo "mpirun: $DEVICE_NUM processes, logs: $LOG_DIR/mpirun/1/rank.<rank>/stdout"
    run mpirun -n "$DEVICE_NUM" --output-filename "$LOG_DIR/mpirun" --merge-stderr-to-stdout \
               -x TSM_RANK_WORKDIR -x PATH "$PYTHON" "$ROOT/train.py" "${ARGS[@]}"
    ;;
  *.json)
    RANK_TABLE_FILE=$(abspath "$LAUNCHER")
    [ -f "$RANK_TABLE_FILE" ] || { echo "rank table not found: $RANK_TABLE_FILE"; exit 1; }
    [ "$DEVICE_TARGET" = "Ascend" ] || { echo "a rank table is for Ascend; use msrun or mpirun on $DEVICE_TARGET"; exit 1; }
    read -r RANK_SIZE TABLE_START TABLE_DEVICES < <("$PYTHON" "$ROOT/tools/rank_table.py" info "$RANK_TABLE_FILE" \
        --node_rank "$NODE_RANK" --server_id "${SERVER_ID:-}") || exit 1
    RANK_START=${RANK_START:-$TABLE_START}
    is_count "$RANK_START" || { echo "RANK_START must be a number, got '$RANK_START'"; exit 1; }
    [ "$TABLE_DEVICES" = "$DEVICE_NUM" ] || {
      echo "DEVICE_NUM is $DEVICE_NUM but the rank table lists $TABLE_DEVICES devices for this server"; exit 1; }
    [ $((RANK_START + DEVICE_NUM)) -le "$RANK_SIZE" ] || {
      echo "ranks $RANK_START..$((RANK_START + DEVICE_NUM - 1)) exceed the table's $RANK_SIZE"; exit 1; }
    export RANK_TABLE_FILE RANK_SIZE
    echo "rank table: $RANK_SIZE ranks, this node runs ranks $RANK_START..$((RANK_START + DEVICE_NUM - 1)), logs: $LOG_DIR"
    PIDS=()
    for ((local = 0; local < DEVICE_NUM; local++)); do
      rank=$((RANK_START + local))
      echo "rank $rank on device $((DEVICE_START + local)), log: $LOG_DIR/rank_$rank.log"
      if [ "${DRY_RUN:-0}" = 1 ]; then
        echo "DRY_RUN: RANK_ID=$rank DEVICE_ID=$((DEVICE_START + local)) RANK_SIZE=$RANK_SIZE $PYTHON $ROOT/train.py ${ARGS[*]}"
        continue
      fi
      RANK_ID=$rank DEVICE_ID=$((DEVICE_START + local)) \
        "$PYTHON" "$ROOT/train.py" "${ARGS[@]}" > "$LOG_DIR/rank_$rank.log" 2>&1 &
      PIDS+=($!)
    done
    STATUS=0
    for pid in "${PIDS[@]+"${PIDS[@]}"}"; do wait "$pid" || STATUS=1; done
    exit $STATUS
    ;;
  *)
    echo "LAUNCHER must be msrun, mpirun or a rank table .json, got '$LAUNCHER'"; usage; exit 1
    ;;
esac
