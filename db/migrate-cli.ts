/** `npm run db:migrate`: migrates the database named by DATABASE_URL. */
import { migrateDatabase } from './migrate.js';
import { loadConfig } from '../common/config.js';

await migrateDatabase(loadConfig(process.env).databaseUrl);
console.log('database migrated');
