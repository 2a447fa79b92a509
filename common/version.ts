/** Courier's version, which agents report at every check-in; kept equal to package.json's (a unit test checks). */
export const COURIER_VERSION = '0.1.0';
