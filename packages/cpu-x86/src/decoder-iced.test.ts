/**
 * Runs iced's 16- and 32-bit decoder test vectors through decode() (data: shared/testdata/iced-decoder,
 * or $TSVMM_TESTDATA/iced-decoder). Every line in scope must agree on length, validity, mnemonic,
 * operands, constant offsets and reported prefixes; lines out of scope are counted per category.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { DECODE_OK, DECODE_UD, decode, Instruction } from "./decoder.js";
import { SIZE32 } from "./flags.js";
import {
  BEYOND_TARGET_ISA,
  ByteSource,
  canonicalIcedOperand,
  canonicalOperand,
  constantOffsets,
  encodingCategory,
  type IcedLine,
  IGNORED_OPTIONS,
  normaliseMnemonic,
  opcodeKey,
  parseIcedFile,
  reportedPrefixes,
} from "./iced-format.test-support.js";
import {
  ALL_EXTENSIONS,
  FORM_ATTRIBUTES,
  formMnemonic,
  formOperand,
  formOperandCount,
  RAISES_UD,
} from "./opcode-table.js";

const TESTDATA =
  process.env.TSVMM_TESTDATA ?? fileURLToPath(new URL("../../../../shared/testdata", import.meta.url));
const ICED_DIR = join(TESTDATA, "iced-decoder");
const FILES = [
  { name: "iced16", file: "DecoderTest16.txt", default32: false, startIp: 0x7ff0 },
  { name: "iced32", file: "DecoderTest32.txt", default32: true, startIp: 0x7ffffff0 },
] as const;
const missing = FILES.filter(({ file }) => !existsSync(join(ICED_DIR, file)));
const skipReason =
  missing.length === 0
    ? ""
    : `iced decoder tests skipped: ${missing.map((f) => f.file).join(", ")} not found in ${ICED_DIR} ` +
      "(set TSVMM_TESTDATA to the testdata directory)";
if (skipReason !== "") console.warn(skipReason);

/** iced Code -> Mnemonic, to name the instruction an INVALID line's code= refers to. */
function codeMnemonics(lines: readonly IcedLine[]): Map<string, string> {
  const map = new Map<string, string>();
  for (const line of lines) if (!line.invalid) map.set(line.code, line.mnemonic.toLowerCase());
  return map;
}

/** Why a line is out of scope, or undefined when it is in scope. */
function outOfScope(line: IcedLine, mnemonics: Map<string, string>): string | undefined {
  const encoding = encodingCategory(line.bytes);
  if (encoding !== undefined) return encoding;
  if (line.options.some((option) => option.startsWith("decopt="))) return "decoder option";
  let mnemonic = line.mnemonic.toLowerCase();
  if (line.invalid) {
    const code = line.options.find((option) => option.startsWith("code="))?.slice(5) ?? "INVALID";
    mnemonic = mnemonics.get(code) ?? code.split("_")[0].toLowerCase();
  }
  if (BEYOND_TARGET_ISA.has(mnemonic)) return "beyond P6+SSE2";
  return undefined;
}

/** Checks one in-scope line; returns the mismatches (empty when it passes). */
function check(line: IcedLine, insn: Instruction, default32: boolean, startIp: number): string[] {
  const source = new ByteSource(line.bytes);
  const status = decode(insn, source, default32, undefined, ALL_EXTENSIONS);
  if (line.invalid) return status === DECODE_UD ? [] : [`expected #UD, got status ${status}`];
  const problems: string[] = [];
  const raisesUd = (FORM_ATTRIBUTES[insn.form] & RAISES_UD) !== 0;
  if (status !== DECODE_OK && !(status === DECODE_UD && raisesUd)) problems.push(`status ${status}`);
  if (insn.length !== line.bytes.length) problems.push(`length ${insn.length}`);
  if (source.maxIndex >= line.bytes.length) problems.push(`read byte ${source.maxIndex}`);
  if (problems.length > 0) return problems;

  const operandBytes = insn.operandSize === SIZE32 ? 4 : 2;
  const addressBytes = insn.addressSize === SIZE32 ? 4 : 2;
  const mnemonic = formMnemonic(insn.form, operandBytes, addressBytes);
  if (mnemonic !== normaliseMnemonic(line.mnemonic)) problems.push(`mnemonic ${mnemonic}`);

  const expected: string[] = [];
  let offsets = "0;0;0;0;0;0";
  const prefixes: string[] = [];
  for (const option of line.options) {
    const operand = /^op(\d)=(.*)$/.exec(option);
    if (operand) expected[Number(operand[1])] = canonicalIcedOperand(operand[2]);
    else if (option.startsWith("co=")) offsets = option.slice(3);
    else if (/^(es|cs|ss|ds|fs|gs):$/.test(option) || option === "lock" || option === "repne") {
      prefixes.push(option);
    } else if (option === "rep" || option === "repe") prefixes.push("rep");
    else if (!IGNORED_OPTIONS.test(option)) problems.push(`unhandled option ${option}`);
  }
  const count = formOperandCount(insn.form);
  const actual: string[] = [];
  for (let n = 0; n < count; n++) actual.push(canonicalOperand(insn, formOperand(insn.form, n), startIp));
  if (count !== line.operandCount) problems.push(`${count} operands`);
  for (let n = 0; n < Math.max(count, expected.length); n++) {
    if (actual[n] !== expected[n]) problems.push(`op${n} ${actual[n]} (expected ${expected[n]})`);
  }
  if (constantOffsets(insn) !== offsets) problems.push(`co=${constantOffsets(insn)} (expected ${offsets})`);
  const reported = reportedPrefixes(insn);
  const expectedPrefixes = prefixes.sort().join(" ");
  if (reported !== expectedPrefixes) problems.push(`prefixes "${reported}" (expected "${expectedPrefixes}")`);
  return problems;
}

describe("decoder against iced's test vectors", () => {
  const allLines = new Map<string, IcedLine[]>();
  if (skipReason === "") {
    for (const { name, file } of FILES) {
      allLines.set(name, parseIcedFile(readFileSync(join(ICED_DIR, file), "utf8")));
    }
  }
  const mnemonics = codeMnemonics([...allLines.values()].flat());

  for (const { name, default32, startIp } of FILES) {
    it.skipIf(skipReason !== "")(`${name}: every in-scope line decodes as iced does`, () => {
      const lines = allLines.get(name) ?? [];
      const insn = new Instruction();
      const outOfScopeCounts = new Map<string, number>();
      const failures = new Map<string, string[]>();
      let passed = 0;
      let failed = 0;
      for (const line of lines) {
        const reason = outOfScope(line, mnemonics);
        if (reason !== undefined) {
          outOfScopeCounts.set(reason, (outOfScopeCounts.get(reason) ?? 0) + 1);
          // Whatever they are, decoding must terminate within the length limit; VEX, EVEX and XOP
          // must be #UD on this CPU.
          const status = decode(insn, new ByteSource(line.bytes), default32, undefined, ALL_EXTENSIONS);
          const mustBeUd = reason === "VEX" || reason === "EVEX" || reason === "XOP";
          if (insn.length > 16 || (mustBeUd && status !== DECODE_UD)) {
            failed++;
            const key = opcodeKey(line.bytes);
            failures.set(key, [...(failures.get(key) ?? []), `${line.text}\n      -> ${reason} not #UD`]);
          }
          continue;
        }
        const problems = check(line, insn, default32, startIp);
        if (problems.length === 0) passed++;
        else {
          failed++;
          const key = opcodeKey(line.bytes);
          failures.set(key, [...(failures.get(key) ?? []), `${line.text}\n      -> ${problems.join("; ")}`]);
        }
      }
      const outOfScopeTotal = [...outOfScopeCounts.values()].reduce((a, b) => a + b, 0);
      const report = [`${name}: ${passed} passed, ${failed} failed (${outOfScopeTotal} out of scope)`];
      report.push(
        `${name} out of scope: ${[...outOfScopeCounts].map(([reason, n]) => `${reason} ${n}`).join(", ")}`,
      );
      for (const [key, list] of [...failures].sort()) {
        report.push(`  opcode ${key}: ${list.length} failing`);
        for (const entry of list.slice(0, 6)) report.push(`    ${entry}`);
        if (list.length > 6) report.push(`    ... ${list.length - 6} more`);
      }
      console.log(report.join("\n"));
      expect(lines.length).toBeGreaterThan(20_000);
      expect(passed).toBeGreaterThan(3000);
      expect(failed).toBe(0);
    });
  }
});
