import { link, mkdtemp, rename, rm, stat, writeFile } from "node:fs/promises";
import { connect } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { StdioCharBackend } from "./stdio-char-backend.node.js";
import { UnixSocketCharBackend } from "./unix-socket-char-backend.node.js";

let dir: string;
beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), "tsvmm-chr-"));
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe("StdioCharBackend", () => {
  it("writes to its output, reads its input, and leaves both streams open when closed", async () => {
    const input = new PassThrough();
    const output = new PassThrough();
    const backend = new StdioCharBackend({ input, output });
    const got: number[] = [];
    backend.onData((bytes) => got.push(...bytes));
    backend.onData((bytes) => got.push(...bytes)); // set again: still one listener
    input.write(Buffer.from("hi"));
    backend.write(Uint8Array.of(0x6f, 0x6b));
    await vi.waitFor(() => expect(got).toEqual([0x68, 0x69]));
    expect(output.read()?.toString()).toBe("ok");
    await backend.close();
    input.write(Buffer.from("late"));
    backend.write(Uint8Array.of(1));
    await new Promise((resolve) => setImmediate(resolve));
    expect(got).toEqual([0x68, 0x69]);
    expect(input.destroyed || output.destroyed).toBe(false);
  });
});

describe("UnixSocketCharBackend", () => {
  it("serves one client at a time, drops output with no client, and removes its socket on close", async () => {
    const path = join(dir, "console.sock");
    await writeFile(join(dir, "unrelated"), "x");
    const backend = await UnixSocketCharBackend.listen(path);
    expect((await stat(path)).isSocket()).toBe(true);
    const got: string[] = [];
    backend.onData((bytes) => got.push(new TextDecoder().decode(bytes)));
    backend.write(new TextEncoder().encode("nobody hears this"));

    const client = connect(path);
    const received: Buffer[] = [];
    client.on("data", (chunk) => received.push(chunk));
    await backend.whenConnected();
    backend.write(new TextEncoder().encode("login: "));
    client.write("root\n");
    await vi.waitFor(() => expect(Buffer.concat(received).toString()).toBe("login: "));
    await vi.waitFor(() => expect(got.join("")).toBe("root\n"));

    const second = connect(path);
    await new Promise<void>((resolve) => second.on("close", () => resolve()).on("error", () => undefined));
    expect(backend.connected).toBe(true);

    client.destroy();
    await vi.waitFor(() => expect(backend.connected).toBe(false));
    await backend.close();
    await expect(stat(path)).rejects.toThrow(/ENOENT/);
  });

  it("replaces a stale socket file but refuses to delete anything else", async () => {
    const path = join(dir, "stale.sock");
    const first = await UnixSocketCharBackend.listen(path);
    // A crashed run leaves its socket file behind: keep a second name for it across the orderly close.
    await link(path, `${path}.kept`);
    await first.close();
    await rename(`${path}.kept`, path);
    expect((await stat(path)).isSocket()).toBe(true);
    const second = await UnixSocketCharBackend.listen(path);
    const client = connect(path);
    await second.whenConnected();
    client.destroy();
    await second.close();

    const regular = join(dir, "regular-file");
    await writeFile(regular, "keep me");
    await expect(UnixSocketCharBackend.listen(regular)).rejects.toThrow(/not a socket/);
    expect((await stat(regular)).isFile()).toBe(true);
  });
});
