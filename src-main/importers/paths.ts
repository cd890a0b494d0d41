import { realpath, stat } from 'node:fs/promises';
import { dirname, isAbsolute, relative, resolve, sep } from 'node:path';
import { DataInputError } from '../../core/data/text.js';

export class UnsafePathError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'UnsafePathError';
  }
}

const escapes = (root: string, full: string) => {
  const rel = relative(root, full);
  return rel === '' || rel === '..' || rel.startsWith(`..${sep}`) || isAbsolute(rel);
};

/**
 * Returns a function that resolves paths taken from a dataset (an image column, `img_name`) inside
 * `root`, refusing anything that would read outside it: absolute paths, `..` segments (with either
 * slash), NUL bytes, and symbolic links whose target lies outside. It throws UnsafePathError, or the
 * file system's own error (ENOENT) for a missing file.
 */
export function pathResolver(root: string): (name: string) => Promise<string> {
  let realRoot: Promise<string> | undefined;
  return async (name) => {
    if (name.includes('\0')) throw new UnsafePathError('path contains a NUL byte');
    if (isAbsolute(name) || /^[a-zA-Z]:[\\/]/.test(name) || name.startsWith('\\')) {
      throw new UnsafePathError(
        'absolute paths are not allowed: image paths must be relative to the dataset',
      );
    }
    if (name.split(/[\\/]/).includes('..')) {
      throw new UnsafePathError("path traversal: '..' would leave the dataset folder");
    }
    realRoot ??= realpath(root);
    const base = await realRoot;
    const full = resolve(base, name);
    if (escapes(base, full)) throw new UnsafePathError('path leaves the dataset folder');
    const real = await realpath(full);
    if (escapes(base, real)) throw new UnsafePathError('symbolic link points outside the dataset folder');
    return real;
  };
}

/**
 * Where an import points: `path` resolved, whether it is one file, and the folder that holds the dataset
 * (the file's folder, or the path itself). A missing path is the operator's input error.
 */
export async function locateInput(path: string): Promise<{ target: string; isFile: boolean; root: string }> {
  const target = resolve(path);
  let isFile: boolean;
  try {
    const info = await stat(target);
    isFile = info.isFile();
    // A device, pipe or socket (say /dev/null) is neither a dataset file nor a folder to walk.
    if (!isFile && !info.isDirectory()) throw new DataInputError(`${path} is neither a file nor a folder`);
  } catch (error) {
    if (error instanceof DataInputError) throw error;
    throw new DataInputError(`${path} not found`);
  }
  return { target, isFile, root: isFile ? dirname(target) : target };
}
