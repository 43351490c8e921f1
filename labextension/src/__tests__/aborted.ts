/** Waits until `signal` fires, then fails the way an aborted fetch body does. */
export function aborted(signal: AbortSignal): Promise<never> {
  return new Promise((_, reject) => {
    const fail = () => reject(Object.assign(new Error('aborted'), { name: 'AbortError' }));
    if (signal.aborted) {
      fail();
    }
    signal.addEventListener('abort', fail);
  });
}
