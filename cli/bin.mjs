#!/usr/bin/env node
// The `courier` command from a checkout (npx courier): the TypeScript CLI through tsx's loader.
import { register } from 'tsx/esm/api';

register();
await import('./main.ts');
