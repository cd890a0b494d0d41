import { spawn, spawnSync } from 'node:child_process';
import { createServer, type Server } from 'node:net';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { cohortWithin } from '../core/cli/cohort-process.node.js';
import { cleanupTempDirs, freePort, tempDir } from './support/temp.js';

// These run the built `cohort` entry (npm test builds first) as a user would.
const cohort = join(import.meta.dirname, '..', 'bin', 'cohort.js');
const run = (...args: string[]) =>
  spawnSync(process.execPath, [cohort, ...args], { encoding: 'utf8', timeout: 60_000 });

/** Bad input must give exactly one line on stderr, a non-zero exit, and no stack trace. */
function expectOneLineError(result: ReturnType<typeof run>, pattern: RegExp) {
  expect(result.status, result.stderr).not.toBe(0);
  const lines = result.stderr.trim().split('\n');
  expect(lines, result.stderr).toHaveLength(1);
  expect(lines[0]).toMatch(/^cohort: /);
  expect(lines[0]).toMatch(pattern);
  expect(result.stderr).not.toMatch(/\n\s+at /);
}

let initialised: string;
beforeAll(() => {
  initialised = join(tempDir(), 'coordinator');
  expect(
    run('server', 'init', '--data-dir', initialised, '--public-url', 'https://127.0.0.1:18999').status,
  ).toBe(0);
});
afterAll(cleanupTempDirs);

describe('cohort CLI bad input', () => {
  it('help texts name every data source and default', () => {
    expect(run('eval', '--help').stdout).toContain('site:<data-dir>');
    expect(run('server', 'export', '--help').stdout).toMatch(
      /--version V +the version to export \(default: the latest\)/,
    );
  });

  it('unknown commands and options', () => {
    expectOneLineError(run('frobnicate'), /unknown command 'frobnicate'/);
    expectOneLineError(run('server', 'explode'), /unknown subcommand 'cohort server explode'/);
    expectOneLineError(
      run('server', 'init', '--data-dir', tempDir(), '--colour'),
      /Unknown option '--colour'/,
    );
  });

  it('missing or wrong data directories', () => {
    const missing = join(tempDir(), 'nope');
    expectOneLineError(run('server', 'start', '--data-dir', missing), /does not exist/);
    expectOneLineError(run('server', 'invite', '--data-dir', missing, '--site', 'A'), /does not exist/);
    expectOneLineError(run('server', 'status', '--data-dir', missing), /does not exist/);
    expectOneLineError(run('server', 'start'), /--data-dir is required/);
    expectOneLineError(
      run('server', 'invite', '--data-dir', tempDir(), '--site', 'A'),
      /not a coordinator data directory/,
    );
    expectOneLineError(run('server', 'init', '--data-dir', initialised), /not empty/);
    const file = join(tempDir(), 'file');
    writeFileSync(file, 'not a directory');
    expectOneLineError(run('server', 'init', '--data-dir', join(file, 'sub')), /ENOTDIR/);
  });

  // Node 20's recursive mkdir never returns under /proc: init and the site's data directory used it.
  it.runIf(process.platform === 'linux')('a data directory that cannot be created', () => {
    expectOneLineError(
      run('server', 'init', '--data-dir', '/proc/cohort-nope'),
      /ENOENT.*\/proc\/cohort-nope/,
    );
    expectOneLineError(
      run('site', 'serve', '--data-dir', '/proc/cohort-nope'),
      /ENOENT.*\/proc\/cohort-nope/,
    );
  });

  it('malformed arguments', () => {
    expectOneLineError(
      run('server', 'init', '--data-dir', join(tempDir(), 'x'), '--public-url', 'ftp://x'),
      /https/,
    );
    expectOneLineError(run('server', 'invite', '--data-dir', initialised), /--site is required/);
    expectOneLineError(
      run('server', 'invite', '--data-dir', initialised, '--site', 'A', '--expires', 'soon'),
      /not a duration/,
    );
    expectOneLineError(
      run('server', 'start', '--data-dir', initialised, '--port', '99999'),
      /--port must be an integer/,
    );
    expectOneLineError(
      run('site', 'serve', '--data-dir', tempDir(), '--port', 'abc'),
      /--port must be an integer/,
    );
    // Negative numbers reach the commands' range checks instead of parseArgs' "ambiguous" refusal.
    expectOneLineError(
      run('site', 'serve', '--data-dir', tempDir(), '--port', '-5'),
      /^cohort: error: site serve: --port must be an integer from 0 to 65535 \(got '-5'\)$/,
    );
    expectOneLineError(
      run(
        'server',
        'federation',
        'create',
        '--data-dir',
        initialised,
        '--id',
        'f',
        '--answers',
        'synth',
        '--lr',
        '-1',
      ),
      /^cohort: error: server federation create: --lr must be a number in \(0, 1\] \(got '-1'\)$/,
    );
    expectOneLineError(
      run('bench', 'secagg', '--sites', '10', '--params', '10', '--neighbours', '3'),
      /^cohort: error: bench secagg: neighbours must be an even integer ≥ 2 \(got 3\)$/,
    );
    expectOneLineError(
      run('eval', '--model', join(tempDir(), 'nope'), '--data', 'synth'),
      /^cohort: error: eval: --model .*nope does not exist$/,
    );
    expectOneLineError(
      run('site', 'data', '--data-dir', initialised),
      /^cohort: error: site data: .* is a coordinator's data directory, not a site's$/,
    );
  });

  it('malformed enrollment links', () => {
    const site = join(tempDir(), 'site');
    expectOneLineError(run('site', 'enroll', '--data-dir', site, 'not-a-link'), /invalid enrollment link/);
    expectOneLineError(
      run(
        'site',
        'enroll',
        '--data-dir',
        site,
        'cohort://enroll?coordinator=https%3A%2F%2F127.0.0.1%3A1&token=short&fingerprint=00',
      ),
      /token is missing or malformed/,
    );
    expectOneLineError(run('site', 'enroll', '--data-dir', site), /exactly one enrollment link/);
  });

  it('a coordinator that is not running', () => {
    expectOneLineError(run('server', 'status', '--data-dir', initialised), /nothing is listening/);
    const invitation = run(
      'server',
      'invite',
      '--data-dir',
      initialised,
      '--site',
      'Offline Clinic',
      '--json',
    );
    expect(invitation.status).toBe(0);
    const { link } = JSON.parse(invitation.stdout) as { link: string };
    expectOneLineError(
      run('site', 'enroll', '--data-dir', join(tempDir(), 's'), link),
      /nothing is listening/,
    );
  });

  describe('ports in use', () => {
    let blocker: Server;
    let port: number;
    beforeAll(async () => {
      port = await freePort();
      blocker = createServer().listen(port, '127.0.0.1');
      await new Promise((resolve) => blocker.once('listening', resolve));
    });
    afterAll(() => new Promise((resolve) => blocker.close(resolve)));

    it('server start and site serve say which port is taken', () => {
      expectOneLineError(
        run('server', 'start', '--data-dir', initialised, '--port', String(port)),
        new RegExp(`port ${port} .*already in use`),
      );
      expectOneLineError(
        run('site', 'serve', '--data-dir', join(tempDir(), 's'), '--port', String(port)),
        new RegExp(`port ${port} .*already in use`),
      );
    });
  });
});

describe('site data directories', () => {
  it('commands that only read or change a site refuse a directory that is not one, and create nothing', () => {
    const typo = join(tempDir(), 'typo');
    const refused = /does not exist; enroll first with 'cohort site enroll'/;
    expectOneLineError(run('site', 'audit', '--data-dir', typo), refused);
    expectOneLineError(run('site', 'participate', '--data-dir', typo, 'on'), refused);
    expectOneLineError(run('site', 'data', '--data-dir', typo), refused);
    expect(existsSync(typo)).toBe(false);
    const empty = tempDir();
    expectOneLineError(run('site', 'audit', '--data-dir', empty), /no site store in .*; enroll first/);
    expectOneLineError(run('site', 'participate', '--data-dir', empty), /no site store in/);
    expect(readdirSync(empty)).toEqual([]);
  });

  it('a failed enrollment takes back what it created, and only that', () => {
    const invitation = run('server', 'invite', '--data-dir', initialised, '--site', 'Lakeside', '--json');
    expect(invitation.status, invitation.stderr).toBe(0);
    // The coordinator is not running: the site has made its identity key and store by the time it fails.
    const { link } = JSON.parse(invitation.stdout) as { link: string };
    const parent = tempDir();
    expectOneLineError(
      run('site', 'enroll', '--data-dir', join(parent, 'new', 'site'), link),
      /nothing is listening/,
    );
    expect(readdirSync(parent)).toEqual([]);

    const unrelated = tempDir();
    writeFileSync(join(unrelated, 'notes.txt'), 'not Cohort’s');
    expectOneLineError(run('site', 'enroll', '--data-dir', unrelated, link), /nothing is listening/);
    expect(readdirSync(unrelated)).toEqual(['notes.txt']);

    const withData = join(tempDir(), 'site');
    expect(run('site', 'synth', '--data-dir', withData, '--preset', 'chest-clinic', '--n', '10').status).toBe(
      0,
    );
    const before = readdirSync(withData);
    expectOneLineError(run('site', 'enroll', '--data-dir', withData, link), /nothing is listening/);
    expect(readdirSync(withData)).toEqual(before);
    expect(JSON.parse(run('site', 'data', '--data-dir', withData, '--json').stdout)).toMatchObject({
      questions: 10,
    });
  });
});

describe('one site agent per data directory', () => {
  /** `cohort site serve --json`, resolved once it is ready (or rejected with its stderr). */
  async function serve(dataDir: string) {
    const agent = spawn(process.execPath, [cohort, 'site', 'serve', '--data-dir', dataDir, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stderr = '';
    agent.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    await new Promise<void>((resolve, reject) => {
      agent.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('"ready"') && resolve());
      agent.once('exit', (code) => reject(new Error(`site serve exited with ${code}: ${stderr}`)));
    });
    return {
      pid: agent.pid!,
      stop: async () => {
        const exited = new Promise((resolve) => agent.once('exit', resolve));
        agent.kill('SIGINT');
        await exited;
        return agent.exitCode;
      },
    };
  }

  it('a second agent on the same directory refuses to start, until the first one stops', async () => {
    const dataDir = join(tempDir(), 'site');
    const first = await serve(dataDir);
    try {
      const message = new RegExp(
        `another site agent is already running for ${dataDir} \\(pid ${first.pid}\\)`,
      );
      expectOneLineError(run('site', 'serve', '--data-dir', dataDir), message);
      // Enrolling opens the same agent: it must not run beside one already serving the directory.
      expectOneLineError(run('site', 'enroll', '--data-dir', dataDir, 'cohort://enroll?x'), message);
    } finally {
      expect(await first.stop()).toBe(0);
    }
    expect(await (await serve(dataDir)).stop()).toBe(0);
  });

  it('a lock left by an agent that is gone is taken over', async () => {
    const dataDir = join(tempDir(), 'site');
    const gone = spawnSync(process.execPath, ['-e', 'process.stdout.write(String(process.pid))'], {
      encoding: 'utf8',
    });
    mkdirSync(dataDir);
    writeFileSync(join(dataDir, 'agent.lock'), `${gone.stdout}\n`);
    const agent = await serve(dataDir);
    expect(readFileSync(join(dataDir, 'agent.lock'), 'utf8')).toBe(`${agent.pid}\n`);
    expect(await agent.stop()).toBe(0);
    expect(existsSync(join(dataDir, 'agent.lock'))).toBe(false);
  });
});

describe('cohort CLI happy path', () => {
  it('init, start, invite, enroll and status across real processes', async () => {
    const port = await freePort();
    const dataDir = join(tempDir(), 'c');
    expect(
      run('server', 'init', '--data-dir', dataDir, '--public-url', `https://127.0.0.1:${port}`).status,
    ).toBe(0);
    const server = spawn(process.execPath, [cohort, 'server', 'start', '--data-dir', dataDir, '--json'], {
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('"listening"') && resolve());
        server.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
      });
      const { link } = JSON.parse(
        run('server', 'invite', '--data-dir', dataDir, '--site', 'Riverside', '--json').stdout,
      ) as { link: string };
      const enrolled = run('site', 'enroll', '--data-dir', join(tempDir(), 'site'), link, '--json');
      expect(enrolled.status, enrolled.stderr).toBe(0);
      expect(JSON.parse(enrolled.stdout)).toMatchObject({ site: { name: 'Riverside' } });
      const status = run('server', 'status', '--data-dir', dataDir, '--json');
      expect(status.status, status.stderr).toBe(0);
      expect(JSON.parse(status.stdout)).toMatchObject({ sites: [{ name: 'Riverside', connected: false }] });
    } finally {
      server.kill('SIGINT');
      await new Promise((resolve) => server.once('exit', resolve));
    }
    expect(server.exitCode).toBe(0);
  });
});

describe('cohort server start --port other than the public URL', () => {
  it('warns once, and the admin commands find the coordinator through its listening file', async () => {
    const [publicPort, port] = [await freePort(), await freePort()];
    const dataDir = join(tempDir(), 'c');
    const publicUrl = `https://127.0.0.1:${publicPort}`;
    expect(run('server', 'init', '--data-dir', dataDir, '--public-url', publicUrl).status).toBe(0);
    const server = spawn(
      process.execPath,
      [cohort, 'server', 'start', '--data-dir', dataDir, '--port', String(port), '--json'],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let stderr = '';
    server.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    try {
      await new Promise<void>((resolve, reject) => {
        server.stdout.on('data', (chunk: Buffer) => chunk.toString().includes('"listening"') && resolve());
        server.once('exit', (code) => reject(new Error(`server exited with ${code}: ${stderr}`)));
      });
      expect(stderr.trim().split('\n')).toEqual([
        `cohort: warning: listening on port ${port}, not on the public URL's ${publicUrl}: sites and invitation links use the public URL`,
      ]);
      const status = run('server', 'status', '--data-dir', dataDir);
      expect(status.status, status.stderr).toBe(0);
      expect(status.stdout).toContain(`at https://127.0.0.1:${port}`);
      const list = run('server', 'federation', 'list', '--data-dir', dataDir);
      expect(list.status, list.stderr).toBe(0);
      expect(list.stdout).toContain('No federations yet');
      // --url is honoured by every admin command, here sending them to the public URL, where nothing listens.
      for (const args of [
        ['server', 'status'],
        ['server', 'federation', 'list'],
        ['server', 'rounds', '--federation', 'f'],
        ['server', 'federation', 'create', '--id', 'f', '--answers', 'synth'],
      ])
        expectOneLineError(run(...args, '--data-dir', dataDir, '--url', publicUrl), /nothing is listening/);
    } finally {
      server.kill('SIGINT');
      await new Promise((resolve) => server.once('exit', resolve));
    }
    expect(server.exitCode).toBe(0);
    expect(existsSync(join(dataDir, 'listening.json'))).toBe(false);
    expectOneLineError(run('server', 'status', '--data-dir', dataDir), /nothing is listening/);
  });
});

describe('running cohort from another Cohort process (demo, tests)', () => {
  it('says why a command failed: its exit status and stderr, or that it ran out of time', () => {
    expect(() => cohortWithin(60_000, ['frobnicate'])).toThrow(
      /^cohort frobnicate exited with status 2: cohort: .*unknown command 'frobnicate'/,
    );
    // A limit no process can meet: the command is stopped and the error names the limit.
    expect(() => cohortWithin(1, ['demo', '--help'])).toThrow(
      /^cohort demo --help did not finish within 1 ms and was stopped$/,
    );
    expect(cohortWithin(60_000, ['demo', '--help'])).toContain('usage: cohort demo');
  });
});
