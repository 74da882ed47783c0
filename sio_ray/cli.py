"""``sio-ray``: run jobs on Ray from the shell.

* ``sio-ray submit FILE.jsonl|-`` — environs one per line; results as JSON
  lines (input order) to standard output or ``--out``; progress on standard
  error; exit status 1 if any job failed, 2 for unusable input.
* ``sio-ray status --address HOST:PORT`` — the nodes with their tags and
  load, the drivers' queues (and jobs no node can run), the node caches, and
  the dashboard; without an address (or ``$RAY_ADDRESS``) it says so rather
  than start a Ray of its own.
* ``sio-ray demo`` — the main job on Ray: a local Ray and filetracker, three
  sample submissions compiled and judged, a verdict table.
* ``sio-ray node-args`` — this node's tags, probed, and its calibration
  (speed and noise), as ``ray start`` arguments.
* ``sio-ray calibrate --address HOST:PORT`` — calibrate every alive node again
  (:mod:`sio_ray.calibration`) and record the results in the cluster's
  registry, where placement reads them; exit status 1 if a node could not be
  calibrated.
* ``sio-ray node-types CONFIG`` — on an autoscaling cluster's head: tell the
  drivers which nodes the autoscaler can add (jobs only those could run wait
  for one).
* ``sio-ray gateway`` — sioworkersd's XML-RPC surface for OIOIOI, on Ray
  (:mod:`sio_ray.gateway`; options: ``sio-ray gateway --help``).

``--address`` (or ``$RAY_ADDRESS``), before or after the subcommand, names an
existing cluster; without it ``submit`` and ``demo`` start a local Ray.
"""

from __future__ import annotations

import argparse
import sys
from concurrent.futures import as_completed
from pathlib import Path

from sio.workers import environ as envmod


def _read_environs(source: str) -> list[tuple[int, dict]]:
    """The environs of a JSON-lines file, with their (1-based) line numbers."""
    stream = sys.stdin if source == '-' else open(source, encoding='utf-8')
    environs = []
    with stream:
        for number, line in enumerate(stream, 1):
            if not line.strip():
                continue
            try:
                environs.append((number, envmod.from_json(line)))
            except envmod.EnvironError as exc:
                raise ValueError(f'line {number}: {exc}') from None
    return environs


def cmd_submit(args) -> int:
    import sio_ray
    from sio_ray.driver import submit_prepared
    from sio_ray.prepared import prepare
    try:
        journal = sio_ray.Journal(args.journal_dir, args.batch) if args.batch else None
        # Every job checked (bad values named by their line) before Ray is asked.
        jobs = [prepare(environ, f'line {number}', index if journal is not None else None)
                for index, (number, environ) in enumerate(_read_environs(args.file))]
        sio_ray.connect(args.address)
        futures = submit_prepared(jobs, journal)
    except (OSError, ValueError) as exc:
        print(f'sio-ray submit: {exc}', file=sys.stderr)
        return 2
    out = open(args.out, 'w', encoding='utf-8') if args.out else sys.stdout
    failed = written = 0
    _progress(0, len(futures), 0)
    with out:
        # The bar moves as jobs finish; results go out in input order as soon as they can.
        for done, future in enumerate(as_completed(futures), 1):
            failed += future.result().get('result') != 'SUCCESS'
            _progress(done, len(futures), failed)
            while written < len(futures) and futures[written].done():
                out.write(envmod.to_json(futures[written].result()) + '\n')
                written += 1
            out.flush()
    print(file=sys.stderr)
    return 1 if failed else 0


def _progress(done: int, total: int, failed: int, width: int = 30) -> None:
    filled = width * done // total if total else width
    print(f"\rsio-ray submit: [{'#' * filled}{'.' * (width - filled)}] {done}/{total} done, "
          f'{failed} failed', end='', file=sys.stderr, flush=True)


def cmd_status(args) -> int:
    import ray

    import sio_ray
    from sio.workers import settings
    from sio_ray import load, nodecache, registry, tags
    address = args.address or settings.RAY_ADDRESS.get()
    if address is None:  # a status of its own Ray would show an empty one
        print('sio-ray status: no Ray cluster named: give --address HOST:PORT (or set '
              '$RAY_ADDRESS); sio-ray status does not start a Ray of its own',
              file=sys.stderr)
        return 2
    try:
        session = sio_ray.connect(address)
    except ConnectionError as exc:
        print(f'sio-ray status: {exc}', file=sys.stderr)
        return 2
    busy_cpus = load.busy_cpus()
    queues = registry.published_queues()
    reserved = {node for q in queues for node in q.get('reserved', ())}
    print(f'{"node":<58} {"alive":<6} {"sandbox":<8} {"instr.":<7} {"CPUs used":<10} '
          f'{"memory":<9} {"speed":<6} {"noise":<6} exclusive job')
    for node in session.dispatcher.nodes():
        cpus = node.resources.get('CPU', 0)
        held = f'{busy_cpus.get(node.node_id, 0):g}' if busy_cpus is not None else '?'
        held = f'{held}/{cpus:g}'
        memory = f"{node.resources.get('memory', 0) / 2**30:.1f} GiB"
        mark = '' if node.tagged else '*'  # tags found by a probe
        sandbox = node.tags.get(tags.SANDBOX, '?') + mark
        instructions = node.tags.get(tags.INSTRUCTIONS, '?') + mark
        speed, noise = _calibration_columns(node)
        print(f'{node.node_id:<58} {str(node.alive):<6} {sandbox:<8} {instructions:<7} '
              f'{held:<10} {memory:<9} {speed:<6} {noise:<6} '
              f"{'reserved' if node.node_id in reserved else '-'}")
    used = ray.cluster_resources().get('CPU', 0) - ray.available_resources().get('CPU', 0)
    print(f'cluster: {used:g} of {ray.cluster_resources().get("CPU", 0):g} CPUs busy')
    for q in queues:
        waiting = ', '.join(f'{n} at priority {p}' for p, n in q['queued'].items()) or 'none'
        print(f"driver {q['driver']} (pid {q['pid']} on {q['host']}): {q['in_flight']} in Ray "
              f"(window {q['window']}), queued: {waiting}")
        stalled = q.get('stalled') or {}
        if stalled.get('jobs'):
            print(f"  WARNING: {stalled['jobs']} job(s) cannot be placed, for "
                  f"{stalled['seconds']:.0f} s: {stalled['reason']} (FAILURE after "
                  f"{stalled['fails_after']:g} s, $SIO_RAY_STALL_TIMEOUT)")
        if stalled.get('for_autoscaler'):
            print(f"  {stalled['for_autoscaler']} job(s) wait for the autoscaler to add a "
                  'node able to run them')
    if not queues:
        print('no driver has jobs queued')
    for described in nodecache.describe_all():
        print(nodecache.summary(described))
    print(f'dashboard: {session.dashboard_url}')
    return 0


def _calibration_columns(node) -> tuple[str, str]:
    """A node's speed and noise for ``status`` (``?``: never calibrated)."""
    from sio_ray.steadiness import calibration_of
    found = calibration_of(node)
    return (f'{found[0]:.2f}', f'{found[1]:.3f}') if found else ('?', '?')


def cmd_calibrate(args) -> int:
    import sio_ray
    from sio.workers import settings
    from sio_ray.calibration import calibrate
    address = args.address or settings.RAY_ADDRESS.get()
    if address is None:  # calibrating a Ray of its own would tell nothing
        print('sio-ray calibrate: no Ray cluster named: give --address HOST:PORT (or set '
              '$RAY_ADDRESS)', file=sys.stderr)
        return 2
    try:
        sio_ray.connect(address)
        found = calibrate(args.runs)
    except (ConnectionError, ValueError) as exc:
        print(f'sio-ray calibrate: {exc}', file=sys.stderr)
        return 2
    print(f'{"node":<58} {"speed":<6} {"noise":<6} {"CPU ms":<7} wall ms')
    for node in found:
        cal = node.calibration
        if cal is None:
            print(f'{node.node_id:<58} not calibrated: {node.error}')
        else:
            print(f'{node.node_id:<58} {cal.speed:<6.2f} {cal.noise:<6.3f} {cal.cpu_ms:<7g} '
                  f'{cal.wall_ms:g}')
    if not found:
        print('no alive node with CPUs to calibrate')
    return 1 if any(node.calibration is None for node in found) else 0


def cmd_node_types(args) -> int:
    import yaml

    import sio_ray
    from sio_ray import registry
    try:
        config = yaml.safe_load(Path(args.config).expanduser().read_text())
    except (OSError, yaml.YAMLError) as exc:
        print(f'sio-ray node-types: {exc}', file=sys.stderr)
        return 2
    types = registry.node_types_of(config or {})
    from sio.workers import settings
    address = args.address or settings.RAY_ADDRESS.get()
    if address is None:
        print('sio-ray node-types: give the cluster: --address=auto on its head (or '
              '$RAY_ADDRESS)', file=sys.stderr)
        return 2
    sio_ray.connect(address)
    registry.publish_node_types(types)
    for name, spec in types.items():
        print(f"node type {name}: up to {spec['max_workers']} of {spec['resources']} "
              f"{spec['labels'] or ''}".rstrip())
    if not types:
        print('no worker node types: the cluster does not grow')
    return 0


def cmd_node_args(args) -> int:
    from sio_ray.tags import ray_start_arguments
    print(' '.join(ray_start_arguments()))
    return 0


def cmd_demo(args) -> int:
    from sio_ray.demo import main as demo_main
    return demo_main(args.address)


def cmd_gateway(args) -> int:
    from sio_ray.gateway.cli import run
    return run(args)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog='sio-ray', description=__doc__.split('\n\n')[0])
    parser.add_argument('--address', help='Ray cluster address (default: $RAY_ADDRESS or a '
                                          'local Ray)')
    sub = parser.add_subparsers(dest='command', required=True)
    submit = sub.add_parser('submit', help='run environs from a JSON-lines file')
    submit.add_argument('file', help='JSON lines, one environ each; - for standard input')
    submit.add_argument('--out', type=Path, help='write results here instead of stdout')
    submit.add_argument('--batch', help='batch id: results are journaled, and a rerun of the '
                                        'same batch skips the jobs that finished')
    submit.add_argument('--journal-dir', type=Path,
                        default=Path.home() / '.cache' / 'sio-ray' / 'journals',
                        help='where batch journals live (default: %(default)s)')
    submit.set_defaults(func=cmd_submit)
    status = sub.add_parser('status', help='nodes, tags, load, queues, dashboard')
    status.set_defaults(func=cmd_status)
    demo = sub.add_parser('demo', help='judge sample submissions on Ray')
    demo.set_defaults(func=cmd_demo)
    node_types = sub.add_parser('node-types', help="publish the autoscaler's worker node types "
                                                   'to the cluster (on the head)')
    node_types.add_argument('config', help='the cluster config (the head: '
                                           '~/ray_bootstrap_config.yaml)')
    node_types.set_defaults(func=cmd_node_types)
    calibrate = sub.add_parser('calibrate', help='calibrate every node again (speed, noise) '
                                                 'and record it for placement')
    calibrate.add_argument('--runs', type=int, default=None,
                           help='runs of the reference workload per node (default: '
                                '$SIO_CALIBRATION_RUNS or 7)')
    calibrate.set_defaults(func=cmd_calibrate)
    for command in (submit, status, demo, node_types, calibrate):  # also after the subcommand
        command.add_argument('--address', default=argparse.SUPPRESS,
                             help='Ray cluster address (default: $RAY_ADDRESS or a local Ray)')
    sub.add_parser('node-args', help="this node's tags as `ray start` arguments (probed)"
                   ).set_defaults(func=cmd_node_args)
    from sio_ray.gateway.cli import add_arguments as gateway_arguments
    gateway = sub.add_parser('gateway', help="serve sioworkersd's XML-RPC surface for OIOIOI")
    gateway_arguments(gateway)
    gateway.set_defaults(func=cmd_gateway)
    args = parser.parse_args(argv)
    return args.func(args)


if __name__ == '__main__':
    sys.exit(main())
