import { describe, expect, it } from "vitest";
import { kallsymsFromConsole, SymbolTable } from "./kernel-symbols.js";

const KALLSYMS = `c1000000 T startup_32
c1000000 T _stext
c1000000 T _text
c1000100 t early_idt_handler
c1001000 T do_one_initcall
c1002000 D some_data
c1003000 W weak_function
c1004000 T _etext
c1800000 T _sinittext
c1800000 T start_kernel
c1800800 t unpack_to_rootfs
c1801000 T _einittext
`;

describe("SymbolTable", () => {
  const table = SymbolTable.parse(KALLSYMS);

  it("keeps code symbols and one name per address, a function's over a marker's", () => {
    expect(table.lookup(0xc1000000)).toEqual({ name: "startup_32", offset: 0 });
    expect(table.lookup(0xc1000104)).toEqual({ name: "early_idt_handler", offset: 4 });
    expect(table.lookup(0xc1800000)?.name).toBe("start_kernel");
  });

  it("finds the function containing an address, skipping data symbols", () => {
    expect(table.lookup(0xc1002010)).toEqual({ name: "do_one_initcall", offset: 0x1010 });
    expect(table.lookup(0xc1003fff)).toEqual({ name: "weak_function", offset: 0xfff });
    expect(table.lookup(0xc1800900)).toEqual({ name: "unpack_to_rootfs", offset: 0x100 });
  });

  it("answers nothing outside the kernel's text and init text", () => {
    expect(table.lookup(0xc0ffffff)).toBeUndefined();
    expect(table.lookup(0xc1004000)).toBeUndefined();
    expect(table.lookup(0xc1400000)).toBeUndefined();
    expect(table.lookup(0xc1801000)).toBeUndefined();
    expect(table.lookup(0x08048000)).toBeUndefined();
  });

  it("tells Debian's placeholder System.map from a real one", () => {
    const placeholder = SymbolTable.parse(
      "ffffffffffffffff B The real System.map is in the linux-image-<version>-dbg package\n",
    );
    expect(placeholder.size).toBe(0);
    expect(placeholder.usable).toBe(false);
    expect(placeholder.lookup(0xc1000000)).toBeUndefined();
    const many = Array.from({ length: 1200 }, (_, i) => `${(0xc1000000 + i * 16).toString(16)} T f${i}`).join(
      "\n",
    );
    const real = SymbolTable.parse(many);
    expect(real.usable).toBe(true);
    expect(real.lookup(0xc1000000 + 1199 * 16 + 3)).toEqual({ name: "f1199", offset: 3 });
  });
});

describe("kallsymsFromConsole", () => {
  it("takes the symbol lines between the echoed command and the next prompt", () => {
    const transcript =
      "tsvmm# cat /proc/kallsyms\r\nc1000000 T startup_32\r\nc1000100 t early_idt_handler\r\n" +
      "c1000200 t virtio_init\t[virtio]\r\ntsvmm# ";
    expect(kallsymsFromConsole(transcript, "cat /proc/kallsyms", "tsvmm# ")).toBe(
      "c1000000 T startup_32\nc1000100 t early_idt_handler\nc1000200 t virtio_init\t[virtio]\n",
    );
    expect(kallsymsFromConsole("no command here", "cat /proc/kallsyms", "# ")).toBe("");
  });
});
