// The condition wait lives with the runtime's test support (runtime tests may not import test/);
// integration tests keep importing it from here.
export { waitFor, type WaitOptions } from '../../src/runtime/testing/wait.ts';
