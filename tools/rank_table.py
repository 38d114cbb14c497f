"""Ascend rank tables (HCCL's JSON, version 1.0) for scripts/run_distribute_train.sh: make, merge, inspect.

    # on each server: its devices and their NIC addresses from /etc/hccn.conf (address_<device>=<ip>)
    python tools/rank_table.py make --server_ip 10.0.0.1 --devices 0-7 --out node0.json
    # once: one table for the cluster (ranks numbered server by server, in the order given)
    python tools/rank_table.py merge node0.json node1.json --out rank_table_16p.json
    # what the launcher reads: RANK_SIZE, this server's first global rank, its number of devices
    python tools/rank_table.py info rank_table_16p.json --node_rank 1      # -> 16 8 8

The same table must be given to every server; `--node_rank N` picks the N-th server of the table (or
`--server_id IP` the one with that id).
"""
import argparse
import json
import os
import re
import sys


class RankTableError(ValueError):
    """A malformed hccn.conf or rank table; the message names the file."""


def parse_devices(spec):
    """'0-7' or '0,1,2,3' -> [0, ..., 7]."""
    match = re.fullmatch(r'(\d+)-(\d+)', spec)
    devices = list(range(int(match.group(1)), int(match.group(2)) + 1)) if match else \
        [int(d) for d in spec.split(',') if d.strip()]
    if not devices or len(set(devices)) != len(devices):
        raise RankTableError(f"--devices {spec!r}: expected a range like 0-7 or a list like 0,1,2,3")
    return devices


def read_hccn_conf(path):
    """device id -> NIC address from the `address_<id>=<ip>` lines of /etc/hccn.conf."""
    addresses = {}
    with open(path, encoding='utf-8') as f:
        for number, line in enumerate(f, 1):
            match = re.fullmatch(r'\s*address_(\d+)\s*=\s*(\S+)\s*', line)
            if match:
                addresses[int(match.group(1))] = match.group(2)
            elif line.strip().startswith('address'):
                raise RankTableError(f"{path}, line {number}: expected address_<device>=<ip>, got {line.strip()!r}")
    return addresses


def make_table(server_ip, devices, addresses, conf_path='hccn.conf'):
    missing = [d for d in devices if d not in addresses]
    if missing:
        raise RankTableError(f"{conf_path}: no address_<device> line for devices {missing}")
    device_list = [{'device_id': str(d), 'device_ip': addresses[d], 'rank_id': str(rank)}
                   for rank, d in enumerate(devices)]
    return {'version': '1.0', 'server_count': '1',
            'server_list': [{'server_id': server_ip, 'device': device_list, 'host_nic_ip': 'reserve'}],
            'status': 'completed'}


def merge_tables(tables):
    """One table of all servers, global ranks numbered server by server."""
    servers, rank = [], 0
    for table in tables:
        for server in table['server_list']:
            devices = []
            for device in server['device']:
                devices.append({**device, 'rank_id': str(rank)})
                rank += 1
            servers.append({**server, 'device': devices})
    ids = [s['server_id'] for s in servers]
    if len(set(ids)) != len(ids):
        raise RankTableError(f"the tables repeat a server: {ids}")
    return {'version': '1.0', 'server_count': str(len(servers)), 'server_list': servers, 'status': 'completed'}


def load_table(path):
    try:
        with open(path, encoding='utf-8') as f:
            table = json.load(f)
        servers = table['server_list']
        for server in servers:
            for device in server['device']:
                int(device['rank_id']), int(device['device_id'])
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise RankTableError(f"{path}: not a rank table ({type(err).__name__}: {err})") from None
    return table


def table_info(table, node_rank=None, server_id=None, path='rank table'):
    """(rank_size, first global rank of the server, its number of devices)."""
    servers = table['server_list']
    if server_id:
        chosen = [s for s in servers if s['server_id'] == server_id]
        if not chosen:
            raise RankTableError(f"{path}: no server {server_id!r}; it has {[s['server_id'] for s in servers]}")
        server = chosen[0]
    else:
        node_rank = node_rank or 0
        if not 0 <= node_rank < len(servers):
            raise RankTableError(f"{path}: NODE_RANK {node_rank}, but the table has {len(servers)} server(s)")
        server = servers[node_rank]
    ranks = sorted(int(d['rank_id']) for d in server['device'])
    if ranks != list(range(ranks[0], ranks[0] + len(ranks))):
        raise RankTableError(f"{path}: the ranks of server {server['server_id']} are not consecutive: {ranks}")
    rank_size = sum(len(s['device']) for s in servers)
    return rank_size, ranks[0], len(ranks)


def write_json(table, path):
    """Write atomically: a temporary file next to `path`, then rename."""
    tmp = f'{path}.tmp'
    with open(tmp, 'w', encoding='utf-8') as f:
        json.dump(table, f, indent=4)
        f.write('\n')
    os.replace(tmp, path)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest='command', required=True)
    make = sub.add_parser('make', help="this server's table from /etc/hccn.conf")
    make.add_argument('--server_ip', required=True, help='this server (host) address, as the other servers see it')
    make.add_argument('--devices', default='0-7', help='devices to use: 0-7, 0-3, 4,5,6,7 (default 0-7)')
    make.add_argument('--hccn_conf', default='/etc/hccn.conf', help='the device IP addresses of this server')
    make.add_argument('--out', required=True, help='the rank table (JSON) to write')
    merge = sub.add_parser('merge', help='one table from the tables of several servers')
    merge.add_argument('tables', nargs='+', help='the tables of `make`, one a server, in server order')
    merge.add_argument('--out', required=True, help='the merged rank table (JSON) to write')
    info = sub.add_parser('info', help='print: RANK_SIZE first-global-rank devices-of-this-server')
    info.add_argument('table', help='a rank table (of make or merge)')
    info.add_argument('--node_rank', type=int, default=0, help='this server\'s place in the table (0: first)')
    info.add_argument('--server_id', default='', help='this server\'s server_id in the table (default: by --node_rank)')
    args = parser.parse_args(argv)
    try:
        if args.command == 'make':
            write_json(make_table(args.server_ip, parse_devices(args.devices), read_hccn_conf(args.hccn_conf),
                                  args.hccn_conf), args.out)
        elif args.command == 'merge':
            write_json(merge_tables([load_table(p) for p in args.tables]), args.out)
        else:
            print(*table_info(load_table(args.table), args.node_rank, args.server_id, args.table))
    except (RankTableError, OSError) as err:
        sys.exit(f'rank_table.py: {err}')


if __name__ == '__main__':
    main()
