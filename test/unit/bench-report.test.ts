/**
 * The benchmark's command line and report, without running one: options are checked as an operator would
 * expect, a configuration run again replaces its own section of benchmarks.md and no other, and the
 * offer's choosers are one in ten of each kind.
 */
import { describe, expect, it } from 'vitest';
import { choicesFor } from '../../scripts/lib/bench/offer-phase.js';
import { UsageError } from '../../common/command-line.js';
import { BUILD_DIR, parseBenchCli } from '../../scripts/lib/bench/options.js';
import { DEFAULT_DOWNLOADS_PER_RELAY } from '../../common/throughput.js';
import { upsertSection } from '../../scripts/lib/bench/report.js';

describe('bench command line', () => {
  it('reads the four figures, the output folder relative to the caller, the skips, the command to repeat, and measures the build', () => {
    const args = ['--computers', '2000', '--relays', '4', '--size', '1000000', '--install-ms', '5000', '--out-dir', 'out', '--skip-offer'];
    expect(parseBenchCli(args, '/home/admin')).toEqual({
      computers: 2000,
      relays: 4,
      sizeBytes: 1_000_000,
      installMs: 5000,
      downloadsPerRelay: DEFAULT_DOWNLOADS_PER_RELAY,
      fleetProcesses: 1,
      outDir: '/home/admin/out',
      skipFloor: false,
      skipOffer: true,
      skipTransfer: false,
      command: 'npm run bench -- --computers 2000 --relays 4 --size 1000000 --install-ms 5000 --out-dir out --skip-offer',
      programs: { built: BUILD_DIR },
    });
  });

  it('may leave out the floor, and bound downloads per relay below the server default', () => {
    const args = ['--computers', '100000', '--relays', '200', '--size', '1000000', '--install-ms', '30000', '--skip-floor', '--downloads-per-relay', '10'];
    expect(parseBenchCli(args)).toMatchObject({ computers: 100_000, skipFloor: true, skipOffer: false, downloadsPerRelay: 10 });
    expect(() => parseBenchCli([...args.slice(0, -1), '0'])).toThrow(/--downloads-per-relay must be a whole number of at least 1/);
  });

  it('limits every relay for the transfer job when asked', () => {
    const args = ['--computers', '20', '--relays', '2', '--size', '500000', '--install-ms', '0'];
    expect(parseBenchCli(args).relayBandwidth).toBeUndefined();
    expect(parseBenchCli([...args, '--relay-bandwidth', '100000']).relayBandwidth).toBe(100_000);
    expect(() => parseBenchCli([...args, '--relay-bandwidth', '100'])).toThrow(/--relay-bandwidth must be a whole number of at least 1024/);
  });

  it('simulates the fleet in one process unless told, and in never more than it has relays', () => {
    const fleet = (computers: number, relays: number, ...more: string[]) =>
      parseBenchCli(['--computers', String(computers), '--relays', String(relays), '--size', '1', '--install-ms', '1', ...more]).fleetProcesses;
    expect(fleet(100_000, 200)).toBe(1);
    expect(fleet(300, 3, '--fleet-processes', '2')).toBe(2);
    expect(() => fleet(300, 3, '--fleet-processes', '4')).toThrow(/--fleet-processes \(4\) cannot exceed --relays \(3\)/);
  });

  it('refuses a missing figure, a fleet without relays and unknown options', () => {
    expect(() => parseBenchCli(['--computers', '10', '--relays', '1', '--size', '5'])).toThrow(/--install-ms is required/);
    expect(() => parseBenchCli(['--computers', '10', '--relays', '0', '--size', '5', '--install-ms', '1'])).toThrow(UsageError);
    expect(() => parseBenchCli(['--computers', '10', '--relays', '1', '--size', '5', '--install-ms', '1', '--fast'])).toThrow(UsageError);
  });
});

describe('benchmarks.md', () => {
  const section = (key: string, body: string) => `<!-- bench:${key} -->\n${body}\n<!-- /bench:${key} -->`;

  it('replaces the section of the same configuration and keeps the others', () => {
    const before = `# Benchmarks\n\n${section('a', 'old a')}\n\n${section('b', 'b')}\n`;
    const after = upsertSection(before, 'a', section('a', 'new a'));
    expect(after).toBe(`# Benchmarks\n\n${section('a', 'new a')}\n\n${section('b', 'b')}\n`);
  });

  it('appends a configuration it has not seen', () => {
    expect(upsertSection('# Benchmarks\n', 'c', section('c', 'c'))).toBe(`# Benchmarks\n\n${section('c', 'c')}\n`);
  });
});

describe('offer choosers', () => {
  it('makes one computer in ten install and another one in ten decline, spread over the names in order', () => {
    const names = Array.from({ length: 40 }, (_, index) => `pc-${String(index + 1).padStart(2, '0')}`).reverse();
    const choices = choicesFor(names);
    expect(choices.filter((chosen) => chosen.choice === 'install').map((chosen) => chosen.name)).toEqual(['pc-01', 'pc-11', 'pc-21', 'pc-31']);
    expect(choices.filter((chosen) => chosen.choice === 'decline').map((chosen) => chosen.name)).toEqual(['pc-06', 'pc-16', 'pc-26', 'pc-36']);
  });
});
