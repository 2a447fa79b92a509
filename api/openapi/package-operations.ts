/** The package routes, as the OpenAPI document describes them (operation.ts). */
import { packagesQuerySchema } from '../list-queries.js';
import { patchPackageSchema } from '../validation.js';
import { adminErrors, invalid, named, noToken, type Operation } from './operation.js';

export const packageOperations: Operation[] = [
  {
    method: 'post',
    path: '/api/v1/packages',
    operationId: 'uploadPackage',
    tag: 'Packages',
    summary: 'Upload a package: a manifest and its content',
    description:
      'multipart/form-data with a part `manifest` (JSON, see PackageManifest) and a file part `content`, in either ' +
      'order. The server hashes the content and signs the manifest; agents install nothing else.',
    access: 'admin',
    body: 'package upload',
    answers: { 201: { description: 'the package, signed and stored', schema: named.PackageDetailView } },
    errors: { 400: 'a missing, repeated or unexpected part, or an invalid manifest', ...adminErrors, 409: 'package_exists: this name and version exist', 413: 'the manifest part is too large' },
  },
  {
    method: 'get',
    path: '/api/v1/packages',
    operationId: 'listPackages',
    tag: 'Packages',
    summary: 'Packages not retired, newest first, with their relay copies',
    access: 'admin',
    query: packagesQuerySchema,
    answers: { 200: { description: 'a page of packages', schema: named.PackagePage } },
    errors: { 400: invalid, ...adminErrors },
  },
  {
    method: 'get',
    path: '/api/v1/packages/:id',
    operationId: 'getPackage',
    tag: 'Packages',
    summary: 'One package, with its relay copies and the bytes served of it to each agent',
    access: 'admin',
    answers: { 200: { description: 'the package', schema: named.PackageDetailView } },
    errors: { ...adminErrors, 404: 'package_not_found' },
  },
  {
    method: 'patch',
    path: '/api/v1/packages/:id',
    operationId: 'updatePackage',
    tag: 'Packages',
    summary: "Change a package's relay expiration date",
    description: 'Copies already on relays keep their expiry until a transfer job sends the package again.',
    access: 'admin',
    body: patchPackageSchema,
    answers: { 200: { description: 'the package as it now is', schema: named.PackageDetailView } },
    errors: { 400: invalid, ...adminErrors, 404: 'package_not_found' },
  },
  {
    method: 'delete',
    path: '/api/v1/packages/:id',
    operationId: 'retirePackage',
    tag: 'Packages',
    summary: 'Retire a package: no new job may use it and relays delete their copies',
    access: 'admin',
    answers: { 200: { description: 'the retired package', schema: named.RetiredPackage } },
    errors: { ...adminErrors, 404: 'package_not_found', 409: 'package_in_use: `details.jobs` lists the jobs that have not ended' },
  },
  {
    method: 'get',
    path: '/api/v1/packages/:id/content',
    operationId: 'downloadPackage',
    tag: 'Packages',
    summary: "A package's content; Range and If-Match requests resume a download",
    access: 'admin or agent',
    answers: {
      200: { description: 'the whole content', raw: 'octet-stream' },
      206: { description: 'the requested range', raw: 'octet-stream' },
    },
    errors: { 401: noToken, 404: 'package_not_found, or package_retired', 412: "the request's conditions do not hold", 416: 'the range lies outside the content' },
  },
];
