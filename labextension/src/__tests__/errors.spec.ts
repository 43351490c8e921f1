import { OllamaError, errorMessage, isAbort, messageOf } from '../errors';

const reply = (status: number, statusText: string, body: string) => ({ status, statusText, text: async () => body });

describe('errorMessage', () => {
  it("reads Ollama's error field", async () => {
    expect(await errorMessage(reply(404, 'Not Found', '{"error":"model \'nope\' not found"}'))).toBe(
      "model 'nope' not found"
    );
  });

  it("reads Jupyter's message field", async () => {
    expect(await errorMessage(reply(403, 'Forbidden', '{"message":"Forbidden","reason":null}'))).toBe('Forbidden');
  });

  it('falls back to the status line for HTML or empty bodies', async () => {
    expect(await errorMessage(reply(502, 'Bad Gateway', '<html>oops</html>'))).toBe('502 Bad Gateway');
    expect(await errorMessage(reply(500, '', ''))).toBe('500 error');
  });
});

describe('error helpers', () => {
  it('tells aborts from other failures', () => {
    expect(isAbort(Object.assign(new Error('aborted'), { name: 'AbortError' }))).toBe(true);
    expect(isAbort(new OllamaError('busy', 503))).toBe(false);
    expect(isAbort('AbortError')).toBe(false);
  });

  it('writes any thrown value as one line', () => {
    expect(messageOf(new OllamaError('server busy', 503))).toBe('server busy');
    expect(messageOf('plain')).toBe('plain');
    expect(new OllamaError('x', 400).status).toBe(400);
  });
});
