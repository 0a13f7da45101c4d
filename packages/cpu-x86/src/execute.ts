import {
  ALU_CMP,
  alu,
  dec,
  divU64by32,
  inc,
  mulS32,
  mulU32,
  neg,
  SHIFT_SAL,
  SIZE_BITS,
  SIZE_MASK,
  shift,
  signExtend,
  wide,
} from "./alu.js";
import type { Cpu } from "./cpu.js";
import { readDebugRegister, writeDebugRegister } from "./debug-registers.js";
import type { Instruction } from "./decoder.js";
import {
  callFarProtected,
  iretProtected,
  isProtected,
  jumpFarProtected,
  returnFarProtected,
} from "./far-transfer.js";
import { CC_LOGIC, parity, SIZE8, SIZE16, SIZE32 } from "./flags.js";
import {
  CR0_EM,
  CR0_MP,
  CR0_PE,
  CR0_PG,
  CR0_TS,
  CS,
  DS,
  EAX,
  EBP,
  EBX,
  ECX,
  EDX,
  ES,
  ESP,
  EXC_BP,
  EXC_BR,
  EXC_DB,
  EXC_DE,
  EXC_GP,
  EXC_NM,
  EXC_OF,
  FLAG_AF,
  FLAG_CF,
  FLAG_DF,
  FLAG_IF,
  FLAG_OF,
  FLAG_PF,
  FLAG_RF,
  FLAG_SF,
  FLAG_VIF,
  FLAG_VIP,
  FLAG_VM,
  FLAG_ZF,
  FS,
  GS,
  SS,
} from "./registers.js";
import {
  STRING_CMPS,
  STRING_INS,
  STRING_LODS,
  STRING_MOVS,
  STRING_OUTS,
  STRING_SCAS,
  STRING_STOS,
  stringInstruction,
} from "./string-ops.js";
import {
  arpl,
  checkInterruptFlagAccess,
  checkVirtual8086Iopl,
  group6,
  loadAccessRightsOrLimit,
  rdmsr,
  requirePrivilege0,
  sysenter,
  sysexit,
  wrmsr,
} from "./system-instructions.js";
import { executeGroup15, executeWait, executeX87 } from "./x87/execute-x87.js";

/** Executes one decoded instruction. EIP already points past it. */
export function execute(cpu: Cpu, insn: Instruction): void {
  const op = insn.opcode;
  if (op < 0x100) executeOneByte(cpu, insn, op);
  else executeTwoByte(cpu, insn, op & 0xff);
}

function executeOneByte(cpu: Cpu, insn: Instruction, op: number): void {
  const size = insn.operandSize;
  if (op < 0x40) {
    if ((op & 7) < 6) {
      aluInstruction(cpu, insn, op >> 3, op & 7, size);
      return;
    }
    switch (op) {
      case 0x06:
      case 0x0e:
      case 0x16:
      case 0x1e:
        pushSegment(cpu, size, op >> 3);
        return;
      case 0x07:
      case 0x0f: // POP CS (8086; elsewhere 0x0F is the two-byte escape and never gets here)
      case 0x17:
      case 0x1f:
        popSegment(cpu, size, op >> 3);
        return;
      case 0x27:
      case 0x2f:
        decimalAdjust(cpu, op === 0x2f);
        return;
      case 0x37:
      case 0x3f:
        asciiAdjust(cpu, op === 0x3f);
        return;
    }
    cpu.undefinedOpcode();
  }
  if (op < 0x50) {
    const r = op & 7;
    cpu.setReg(
      size,
      r,
      op < 0x48 ? inc(cpu.flags, size, cpu.getReg(size, r)) : dec(cpu.flags, size, cpu.getReg(size, r)),
    );
    return;
  }
  if (op < 0x58) {
    // PUSH r: PUSH SP pushes the value before the decrement on 80286 and later.
    const r = op & 7;
    let value = cpu.getReg(size, r);
    if (r === ESP && cpu.model.pushSpAfterDecrement)
      value = (value - (size === SIZE32 ? 4 : 2)) & SIZE_MASK[size];
    push(cpu, size, value);
    return;
  }
  if (op < 0x60) {
    const value = pop(cpu, size);
    cpu.setReg(size, op & 7, value);
    return;
  }
  if (op >= 0x70 && op < 0x80) {
    if (cpu.flags.condition(op & 15)) jumpRelative(cpu, insn);
    return;
  }
  if (op >= 0x90 && op < 0x98) {
    // XCHG eAX, r (0x90 is NOP; with F3 it is PAUSE).
    const r = op & 7;
    if (r !== 0) {
      const t = cpu.getReg(size, r);
      cpu.setReg(size, r, cpu.getReg(size, EAX));
      cpu.setReg(size, EAX, t);
    }
    return;
  }
  if (op >= 0xb0 && op < 0xc0) {
    if (op < 0xb8) cpu.setReg(SIZE8, op & 7, insn.immediate);
    else cpu.setReg(size, op & 7, insn.immediate);
    return;
  }
  if (op >= 0xd8 && op < 0xe0) {
    // Without a coprocessor, ESC only computes its address: a NOP, except that the 80286 still checks
    // the operand's first word against the segment limit (an overrun further in would be INT 9).
    if (!cpu.model.coprocessorPresent) {
      if (insn.mod !== 3) cpu.linear(insn.segment, cpu.effectiveAddress(insn), 2);
      return;
    }
    x87Escape(cpu, insn);
    return;
  }
  switch (op) {
    case 0x60:
      pusha(cpu, size);
      return;
    case 0x61:
      popa(cpu, size);
      return;
    case 0x62:
      bound(cpu, insn, size);
      return;
    case 0x63: // ARPL: not recognised in real and virtual-8086 mode
      arpl(cpu, insn);
      return;
    case 0x68:
    case 0x6a:
      push(cpu, size, insn.immediate);
      return;
    case 0x69:
    case 0x6b:
      imulThreeOperand(cpu, size, insn.reg, cpu.readModrm(insn, size), insn.immediate);
      return;
    case 0x6c:
    case 0x6d:
      stringInstruction(cpu, insn, STRING_INS, op === 0x6c ? SIZE8 : size);
      return;
    case 0x6e:
    case 0x6f:
      stringInstruction(cpu, insn, STRING_OUTS, op === 0x6e ? SIZE8 : size);
      return;
    case 0x80:
    case 0x81:
    case 0x82:
    case 0x83: {
      const s = op === 0x81 || op === 0x83 ? size : SIZE8;
      const a = cpu.readModrm(insn, s);
      const result = alu(cpu.flags, insn.reg, s, a, insn.immediate);
      if (insn.reg !== ALU_CMP) cpu.writeModrm(insn, s, result);
      return;
    }
    case 0x84:
    case 0x85: {
      const s = op === 0x84 ? SIZE8 : size;
      const a = cpu.readModrm(insn, s);
      cpu.flags.set(CC_LOGIC, s, 0, 0, a & cpu.getReg(s, insn.reg));
      return;
    }
    case 0x86:
    case 0x87: {
      const s = op === 0x86 ? SIZE8 : size;
      const a = cpu.readModrm(insn, s);
      cpu.writeModrm(insn, s, cpu.getReg(s, insn.reg));
      cpu.setReg(s, insn.reg, a);
      return;
    }
    case 0x88:
      cpu.writeModrm(insn, SIZE8, cpu.getReg(SIZE8, insn.reg));
      return;
    case 0x89:
      cpu.writeModrm(insn, size, cpu.getReg(size, insn.reg));
      return;
    case 0x8a:
      cpu.setReg(SIZE8, insn.reg, cpu.readModrm(insn, SIZE8));
      return;
    case 0x8b:
      cpu.setReg(size, insn.reg, cpu.readModrm(insn, size));
      return;
    case 0x8c: {
      // MOV Ev, Sreg: a register destination gets the zero-extended selector at 32 bits.
      const selector = cpu.segSelector[segmentRegister(cpu, insn.reg)];
      if (insn.mod === 3) cpu.setReg(size, insn.rm, selector);
      else cpu.write16(insn.segment, cpu.effectiveAddress(insn), selector);
      return;
    }
    case 0x8d:
      cpu.setReg(size, insn.reg, cpu.effectiveAddress(insn));
      return;
    case 0x8e:
      cpu.loadSegment(segmentRegister(cpu, insn.reg), cpu.readModrm(insn, SIZE16));
      return;
    case 0x8f: {
      // POP Ev: the effective address is computed with the incremented stack pointer.
      const value = cpu.read(size, SS, cpu.getStackPointer());
      const oldSp = cpu.getStackPointer();
      cpu.setStackPointer(oldSp + (size === SIZE32 ? 4 : 2));
      try {
        cpu.writeModrm(insn, size, value);
      } catch (e) {
        cpu.setStackPointer(oldSp);
        throw e;
      }
      return;
    }
    case 0x98: // CBW / CWDE
      if (size === SIZE32) cpu.regs[EAX] = (cpu.regs[EAX] << 16) >> 16;
      else cpu.regs16[0] = (cpu.regs8[0] << 24) >> 24;
      return;
    case 0x99: // CWD / CDQ
      if (size === SIZE32) cpu.regs[EDX] = cpu.regs[EAX] >> 31;
      else cpu.regs16[EDX << 1] = (cpu.regs16[0] & 0x8000) !== 0 ? 0xffff : 0;
      return;
    case 0x9a:
      callFar(cpu, size, insn.immediate2, insn.immediate);
      return;
    case 0x9b: // WAIT: #NM when the FPU context belongs to another task (MP and TS)
      if ((cpu.cr0 & (CR0_MP | CR0_TS)) === (CR0_MP | CR0_TS)) cpu.raise(EXC_NM);
      executeWait(cpu);
      return;
    case 0x9c: {
      checkVirtual8086Iopl(cpu);
      const flags = cpu.flags.get() & ~(FLAG_VM | FLAG_RF);
      push(cpu, size, flags);
      return;
    }
    case 0x9d: {
      checkVirtual8086Iopl(cpu);
      const value = pop(cpu, size);
      if ((cpu.cr0 & CR0_PE) !== 0) {
        // Protected mode: IF only at CPL <= IOPL, IOPL only at CPL 0; VM, VIP, VIF never.
        cpu.setFlagsForIret(
          value & ~(FLAG_VM | FLAG_VIP | FLAG_VIF | FLAG_RF),
          size === SIZE32 ? 4 : 2,
          cpu.cpl,
        );
        if (size === SIZE32) cpu.flags.bits &= ~FLAG_RF;
        return;
      }
      const writable = cpu.model.realModeWritableFlags;
      const mask = size === SIZE32 ? writable : writable & 0xffff;
      cpu.flags.load((cpu.flags.get() & ~mask) | (value & mask));
      return;
    }
    case 0x9e: // SAHF
      cpu.flags.setArith(FLAG_SF | FLAG_ZF | FLAG_AF | FLAG_PF | FLAG_CF, cpu.regs8[1]);
      return;
    case 0x9f: // LAHF
      cpu.regs8[1] = cpu.flags.get() & 0xff;
      return;
    case 0xa0:
    case 0xa1:
    case 0xa2:
    case 0xa3: {
      const s = (op & 1) === 0 ? SIZE8 : size;
      const offset = insn.addressSize === SIZE32 ? insn.displacement : insn.displacement & 0xffff;
      if (op < 0xa2) cpu.setReg(s, EAX, cpu.read(s, insn.segment, offset));
      else cpu.write(s, insn.segment, offset, cpu.getReg(s, EAX));
      return;
    }
    case 0xa4:
    case 0xa5:
      stringInstruction(cpu, insn, STRING_MOVS, op === 0xa4 ? SIZE8 : size);
      return;
    case 0xa6:
    case 0xa7:
      stringInstruction(cpu, insn, STRING_CMPS, op === 0xa6 ? SIZE8 : size);
      return;
    case 0xa8:
    case 0xa9: {
      const s = op === 0xa8 ? SIZE8 : size;
      cpu.flags.set(CC_LOGIC, s, 0, 0, cpu.getReg(s, EAX) & insn.immediate);
      return;
    }
    case 0xaa:
    case 0xab:
      stringInstruction(cpu, insn, STRING_STOS, op === 0xaa ? SIZE8 : size);
      return;
    case 0xac:
    case 0xad:
      stringInstruction(cpu, insn, STRING_LODS, op === 0xac ? SIZE8 : size);
      return;
    case 0xae:
    case 0xaf:
      stringInstruction(cpu, insn, STRING_SCAS, op === 0xae ? SIZE8 : size);
      return;
    case 0xc0:
    case 0xc1:
    case 0xd0:
    case 0xd1:
    case 0xd2:
    case 0xd3: {
      const s = (op & 1) === 0 ? SIZE8 : size;
      let count = op < 0xd0 ? insn.immediate & 0xff : op < 0xd2 ? 1 : cpu.regs8[4];
      if (cpu.model.maskShiftCount) count &= 31;
      const value = cpu.readModrm(insn, s);
      if (insn.reg === SHIFT_SAL && cpu.model.setmoGroup2Reg6) {
        // SETMO/SETMOC: with a nonzero count the operand becomes all ones, flags as OR with it.
        if (count !== 0) cpu.writeModrm(insn, s, cpu.flags.set(CC_LOGIC, s, value, -1, -1));
        return;
      }
      const result = shift(cpu.flags, insn.reg, s, value, count);
      if (count !== 0) cpu.writeModrm(insn, s, result);
      return;
    }
    case 0xc2:
    case 0xc3: {
      const target = pop(cpu, size, op === 0xc2 ? insn.immediate : 0);
      setBranchTarget(cpu, target);
      return;
    }
    case 0xc4:
    case 0xc5:
      loadFarPointer(cpu, insn, size, op === 0xc4 ? ES : DS);
      return;
    case 0xc6:
      cpu.writeModrm(insn, SIZE8, insn.immediate);
      return;
    case 0xc7:
      cpu.writeModrm(insn, size, insn.immediate);
      return;
    case 0xc8:
      enter(cpu, size, insn.immediate, insn.immediate2 & 31);
      return;
    case 0xc9: {
      // LEAVE: the stack pointer takes the frame pointer's value, then BP is popped.
      const bp = cpu.stack32 ? cpu.regs[EBP] : cpu.regs16[EBP << 1];
      const value = cpu.read(size, SS, bp);
      cpu.setStackPointer(bp + (size === SIZE32 ? 4 : 2));
      cpu.setReg(size, EBP, value);
      return;
    }
    case 0xca:
    case 0xcb:
      returnFar(cpu, size, op === 0xca ? insn.immediate : 0);
      return;
    case 0xcc:
      cpu.deliverInterrupt(EXC_BP, -1, true);
      return;
    case 0xcd:
      checkVirtual8086Iopl(cpu);
      cpu.deliverInterrupt(insn.immediate & 0xff, -1, true);
      return;
    case 0xce:
      if (cpu.flags.of()) cpu.deliverInterrupt(EXC_OF, -1, true);
      return;
    case 0xcf:
      iret(cpu, size);
      return;
    case 0xd4: {
      // AAM: #DE on a zero base.
      const base = insn.immediate & 0xff;
      if (base === 0) {
        divideError(cpu);
        return;
      }
      const al = cpu.regs8[0];
      cpu.regs8[1] = (al / base) | 0;
      cpu.regs8[0] = al % base;
      cpu.flags.setResultFlags(SIZE8, cpu.regs8[0], 0);
      return;
    }
    case 0xd5: {
      // AAD: flags as the byte addition AL + AH * base would set them.
      const product = (cpu.regs8[1] * (insn.immediate & 0xff)) & 0xff;
      alu(cpu.flags, 0, SIZE8, cpu.regs8[0], product);
      cpu.regs16[0] = (cpu.regs8[0] + product) & 0xff;
      return;
    }
    case 0xd6: // SALC (undocumented; a model without it raises #UD)
      if (!cpu.model.salcOpcodeD6) cpu.undefinedOpcode();
      cpu.regs8[0] = cpu.flags.cf() !== 0 ? 0xff : 0;
      return;
    case 0xd7: {
      // XLAT
      const base = insn.addressSize === SIZE32 ? cpu.regs[EBX] : cpu.regs16[EBX << 1];
      const offset = insn.addressSize === SIZE32 ? (base + cpu.regs8[0]) | 0 : (base + cpu.regs8[0]) & 0xffff;
      cpu.regs8[0] = cpu.read8(insn.segment, offset);
      return;
    }
    case 0xe0:
    case 0xe1:
    case 0xe2: {
      // LOOPNE / LOOPE / LOOP: the counter is CX or ECX by address size.
      const count =
        insn.addressSize === SIZE32 ? (cpu.regs[ECX] - 1) | 0 : (cpu.regs16[ECX << 1] - 1) & 0xffff;
      let taken = count !== 0;
      if (op === 0xe0) taken = taken && !cpu.flags.zf();
      else if (op === 0xe1) taken = taken && cpu.flags.zf();
      if (taken) jumpRelative(cpu, insn);
      if (insn.addressSize === SIZE32) cpu.regs[ECX] = count;
      else cpu.regs16[ECX << 1] = count;
      return;
    }
    case 0xe3: {
      const count = insn.addressSize === SIZE32 ? cpu.regs[ECX] : cpu.regs16[ECX << 1];
      if (count === 0) jumpRelative(cpu, insn);
      return;
    }
    case 0xe4:
    case 0xe5:
    case 0xec:
    case 0xed: {
      const s = (op & 1) === 0 ? SIZE8 : size;
      const port = op < 0xe8 ? insn.immediate & 0xff : cpu.regs16[EDX << 1];
      cpu.setReg(s, EAX, cpu.ioRead(port, 1 << s));
      return;
    }
    case 0xe6:
    case 0xe7:
    case 0xee:
    case 0xef: {
      const s = (op & 1) === 0 ? SIZE8 : size;
      const port = op < 0xe8 ? insn.immediate & 0xff : cpu.regs16[EDX << 1];
      cpu.ioWrite(port, 1 << s, cpu.getReg(s, EAX));
      return;
    }
    case 0xe8: {
      const target = (cpu.eip + insn.immediate) & branchMask(size);
      push(cpu, size, cpu.eip);
      setBranchTarget(cpu, target);
      return;
    }
    case 0xe9:
    case 0xeb:
      jumpRelative(cpu, insn);
      return;
    case 0xea:
      jumpFar(cpu, insn.immediate2, size === SIZE32 ? insn.immediate : insn.immediate & 0xffff);
      return;
    case 0xf1: // INT1 (ICEBP)
      cpu.deliverInterrupt(EXC_DB, -1);
      return;
    case 0xf4:
      requirePrivilege0(cpu);
      cpu.halted = true;
      return;
    case 0xf5:
      cpu.flags.setArith(FLAG_CF, cpu.flags.cf() ^ 1);
      return;
    case 0xf6:
    case 0xf7:
      group3(cpu, insn, op === 0xf6 ? SIZE8 : size);
      return;
    case 0xf8:
    case 0xf9:
      cpu.flags.setArith(FLAG_CF, op & 1);
      return;
    case 0xfa:
      checkInterruptFlagAccess(cpu);
      cpu.flags.bits &= ~FLAG_IF;
      return;
    case 0xfb:
      // STI: interrupts stay blocked until after the next instruction.
      checkInterruptFlagAccess(cpu);
      if ((cpu.flags.bits & FLAG_IF) === 0) cpu.interruptShadow = true;
      cpu.flags.bits |= FLAG_IF;
      return;
    case 0xfc:
      cpu.flags.bits &= ~FLAG_DF;
      return;
    case 0xfd:
      cpu.flags.bits |= FLAG_DF;
      return;
    case 0xfe:
    case 0xff:
      group45(cpu, insn, op === 0xfe ? SIZE8 : size);
      return;
  }
  cpu.undefinedOpcode();
}

function executeTwoByte(cpu: Cpu, insn: Instruction, op: number): void {
  const size = insn.operandSize;
  if (op >= 0x80 && op < 0x90) {
    if (cpu.flags.condition(op & 15)) jumpRelative(cpu, insn);
    return;
  }
  if (op >= 0x90 && op < 0xa0) {
    cpu.writeModrm(insn, SIZE8, cpu.flags.condition(op & 15) ? 1 : 0);
    return;
  }
  if (op >= 0x40 && op < 0x50) {
    // CMOVcc reads its source even when the condition is false.
    const value = cpu.readModrm(insn, size);
    if (cpu.flags.condition(op & 15)) cpu.setReg(size, insn.reg, value);
    return;
  }
  if (op >= 0xc8) {
    const r = op & 7;
    const v = cpu.regs[r];
    // BSWAP of a 16-bit register is undefined; Intel CPUs clear the low word.
    if (size === SIZE16) cpu.regs16[r << 1] = 0;
    else cpu.regs[r] = ((v & 0xff) << 24) | ((v & 0xff00) << 8) | ((v >>> 8) & 0xff00) | (v >>> 24);
    return;
  }
  switch (op) {
    case 0x00: // group 6: SLDT/STR/LLDT/LTR/VERR/VERW, not recognised in real mode
      group6(cpu, insn);
      return;
    case 0x02:
    case 0x03:
      loadAccessRightsOrLimit(cpu, insn, op === 0x03);
      return;
    case 0x01:
      group7(cpu, insn, size);
      return;
    case 0x06:
      requirePrivilege0(cpu);
      cpu.cr0 &= ~CR0_TS;
      return;
    case 0x08:
    case 0x09:
      requirePrivilege0(cpu);
      return;
    case 0x0d:
    case 0x18:
    case 0x19:
    case 0x1a:
    case 0x1b:
    case 0x1c:
    case 0x1d:
    case 0x1e:
    case 0x1f:
      // INVD/WBINVD (no caches are modelled) and hint NOPs: the operand is not accessed.
      return;
    case 0x20:
      requirePrivilege0(cpu);
      cpu.regs[insn.rm] = readControlRegister(cpu, insn.reg);
      return;
    case 0x22:
      requirePrivilege0(cpu);
      writeControlRegister(cpu, insn.reg, cpu.regs[insn.rm]);
      return;
    case 0x21:
      cpu.regs[insn.rm] = readDebugRegister(cpu, insn.reg);
      return;
    case 0x23:
      writeDebugRegister(cpu, insn.reg, cpu.regs[insn.rm]);
      return;
    case 0x30:
      wrmsr(cpu);
      return;
    case 0x32:
      rdmsr(cpu);
      return;
    case 0x31:
      // CR4.TSD restricts RDTSC to CPL 0.
      if ((cpu.cr4 & 4) !== 0) requirePrivilege0(cpu);
      cpu.readTimeStampCounter();
      return;
    case 0x34:
      sysenter(cpu);
      return;
    case 0x35:
      sysexit(cpu);
      return;
    case 0xa0:
    case 0xa8:
      pushSegment(cpu, size, op === 0xa0 ? FS : GS);
      return;
    case 0xa1:
    case 0xa9:
      popSegment(cpu, size, op === 0xa1 ? FS : GS);
      return;
    case 0xa2: {
      const out = cpuidScratch;
      cpu.cpuid(cpu.regs[EAX], cpu.regs[ECX], out);
      cpu.regs[EAX] = out[0];
      cpu.regs[EBX] = out[1];
      cpu.regs[ECX] = out[2];
      cpu.regs[EDX] = out[3];
      return;
    }
    case 0xa3:
    case 0xab:
    case 0xb3:
    case 0xbb:
      bitTest(cpu, insn, size, (op >> 3) & 3, cpu.getReg(size, insn.reg), true);
      return;
    case 0xba:
      bitTest(cpu, insn, size, insn.reg & 3, insn.immediate & 0xff, false);
      return;
    case 0xa4:
    case 0xa5:
    case 0xac:
    case 0xad: {
      let count = (op & 1) === 0 ? insn.immediate & 0xff : cpu.regs8[4];
      count &= 31;
      // The operand is read even when the count is 0 (a fault on it is taken; host-fuzzer regression).
      const dest = cpu.readModrm(insn, size);
      if (count === 0) return;
      const result = doubleShift(cpu, size, dest, cpu.getReg(size, insn.reg), count, op < 0xa8);
      cpu.writeModrm(insn, size, result);
      return;
    }
    case 0xae: // group 15: FXSAVE, FXRSTOR
      executeGroup15(cpu, insn);
      return;
    case 0xaf:
      imulThreeOperand(cpu, size, insn.reg, cpu.getReg(size, insn.reg), cpu.readModrm(insn, size));
      return;
    case 0xb0:
    case 0xb1: {
      const s = op === 0xb0 ? SIZE8 : size;
      const dest = cpu.readModrm(insn, s);
      const accumulator = cpu.getReg(s, EAX);
      alu(cpu.flags, ALU_CMP, s, accumulator, dest);
      if (cpu.flags.zf()) {
        cpu.writeModrm(insn, s, cpu.getReg(s, insn.reg));
      } else {
        // The destination is written back unchanged (a locked cycle always writes).
        cpu.writeModrm(insn, s, dest);
        cpu.setReg(s, EAX, dest);
      }
      return;
    }
    case 0xb2:
      loadFarPointer(cpu, insn, size, SS);
      return;
    case 0xb4:
      loadFarPointer(cpu, insn, size, FS);
      return;
    case 0xb5:
      loadFarPointer(cpu, insn, size, GS);
      return;
    case 0xb6:
      cpu.setReg(size, insn.reg, cpu.readModrm(insn, SIZE8));
      return;
    case 0xb7:
      cpu.setReg(size, insn.reg, cpu.readModrm(insn, SIZE16));
      return;
    case 0xbe:
      cpu.setReg(size, insn.reg, signExtend(SIZE8, cpu.readModrm(insn, SIZE8)));
      return;
    case 0xbf:
      cpu.setReg(size, insn.reg, signExtend(SIZE16, cpu.readModrm(insn, SIZE16)));
      return;
    case 0xbc:
    case 0xbd: {
      const value = cpu.readModrm(insn, size) & SIZE_MASK[size];
      if (value === 0) {
        // The destination keeps its value (documented as undefined; unchanged on Intel and AMD).
        cpu.flags.setArith(FLAG_ZF, FLAG_ZF);
        return;
      }
      const index = op === 0xbc ? 31 - Math.clz32(value & -value) : 31 - Math.clz32(value);
      cpu.setReg(size, insn.reg, index);
      cpu.flags.setArith(FLAG_ZF, 0);
      return;
    }
    case 0xc0:
    case 0xc1: {
      const s = op === 0xc0 ? SIZE8 : size;
      const dest = cpu.readModrm(insn, s);
      const source = cpu.getReg(s, insn.reg);
      const sum = alu(cpu.flags, 0, s, dest, source);
      cpu.writeModrm(insn, s, sum);
      if (insn.mod !== 3 || insn.rm !== insn.reg) cpu.setReg(s, insn.reg, dest);
      return;
    }
    case 0xc7:
      cmpxchg8b(cpu, insn);
      return;
  }
  cpu.undefinedOpcode();
}

const cpuidScratch = new Int32Array(4);

// -----------------------------------------------------------------------------------------------
// ALU forms.

function aluInstruction(cpu: Cpu, insn: Instruction, aluOp: number, form: number, size: number): void {
  switch (form) {
    case 0: {
      const result = alu(cpu.flags, aluOp, SIZE8, cpu.readModrm(insn, SIZE8), cpu.getReg(SIZE8, insn.reg));
      if (aluOp !== ALU_CMP) cpu.writeModrm(insn, SIZE8, result);
      return;
    }
    case 1: {
      const result = alu(cpu.flags, aluOp, size, cpu.readModrm(insn, size), cpu.getReg(size, insn.reg));
      if (aluOp !== ALU_CMP) cpu.writeModrm(insn, size, result);
      return;
    }
    case 2: {
      const result = alu(cpu.flags, aluOp, SIZE8, cpu.getReg(SIZE8, insn.reg), cpu.readModrm(insn, SIZE8));
      if (aluOp !== ALU_CMP) cpu.setReg(SIZE8, insn.reg, result);
      return;
    }
    case 3: {
      const result = alu(cpu.flags, aluOp, size, cpu.getReg(size, insn.reg), cpu.readModrm(insn, size));
      if (aluOp !== ALU_CMP) cpu.setReg(size, insn.reg, result);
      return;
    }
    case 4: {
      const result = alu(cpu.flags, aluOp, SIZE8, cpu.regs8[0], insn.immediate);
      if (aluOp !== ALU_CMP) cpu.regs8[0] = result;
      return;
    }
    default: {
      const result = alu(cpu.flags, aluOp, size, cpu.getReg(size, EAX), insn.immediate);
      if (aluOp !== ALU_CMP) cpu.setReg(size, EAX, result);
    }
  }
}

function group3(cpu: Cpu, insn: Instruction, size: number): void {
  const f = cpu.flags;
  switch (insn.reg) {
    case 0:
    case 1: // TEST (the /1 alias behaves as /0)
      f.set(CC_LOGIC, size, 0, 0, cpu.readModrm(insn, size) & insn.immediate);
      return;
    case 2:
      cpu.writeModrm(insn, size, ~cpu.readModrm(insn, size));
      return;
    case 3:
      cpu.writeModrm(insn, size, neg(f, size, cpu.readModrm(insn, size)));
      return;
    case 4:
    case 5:
      multiply(cpu, insn, size, cpu.readModrm(insn, size), insn.reg === 5);
      return;
    default:
      divide(cpu, insn, size, cpu.readModrm(insn, size), insn.reg === 7);
  }
}

function group45(cpu: Cpu, insn: Instruction, size: number): void {
  switch (insn.reg) {
    case 0:
      cpu.writeModrm(insn, size, inc(cpu.flags, size, cpu.readModrm(insn, size)));
      return;
    case 1:
      cpu.writeModrm(insn, size, dec(cpu.flags, size, cpu.readModrm(insn, size)));
      return;
    case 2: {
      const target = cpu.readModrm(insn, size) & branchMask(size);
      push(cpu, size, cpu.eip);
      setBranchTarget(cpu, target);
      return;
    }
    case 3: {
      const offset = cpu.effectiveAddress(insn);
      const target = cpu.read(size, insn.segment, offset);
      const selector = cpu.read16(insn.segment, (offset + (size === SIZE32 ? 4 : 2)) & addressMask(insn));
      callFar(cpu, size, selector, size === SIZE32 ? target : target & 0xffff);
      return;
    }
    case 4:
      setBranchTarget(cpu, cpu.readModrm(insn, size) & branchMask(size));
      return;
    case 5: {
      const offset = cpu.effectiveAddress(insn);
      const target = cpu.read(size, insn.segment, offset);
      const selector = cpu.read16(insn.segment, (offset + (size === SIZE32 ? 4 : 2)) & addressMask(insn));
      jumpFar(cpu, selector, size === SIZE32 ? target : target & 0xffff);
      return;
    }
    default: {
      // PUSH Ev (/7 is an alias on the 8086). PUSH SP follows the model, as for 0x54.
      let value = cpu.readModrm(insn, size);
      if (insn.mod === 3 && insn.rm === ESP && cpu.model.pushSpAfterDecrement)
        value = (value - (size === SIZE32 ? 4 : 2)) & SIZE_MASK[size];
      push(cpu, size, value);
    }
  }
}

/** The segment register a ModRM.reg field names: the 8086 ignores bit 2, later CPUs raise #UD. */
function segmentRegister(cpu: Cpu, reg: number): number {
  if (reg < cpu.model.segmentRegisterCount) return reg;
  if (!cpu.model.invalidOpcodeException) return reg & 3;
  return cpu.undefinedOpcode();
}

function addressMask(insn: Instruction): number {
  return insn.addressSize === SIZE32 ? -1 : 0xffff;
}

// -----------------------------------------------------------------------------------------------
// Multiplication and division.

function multiply(cpu: Cpu, insn: Instruction, size: number, source: number, signed: boolean): void {
  const regs = cpu.regs;
  let overflow: boolean;
  // The 8086 microcode negates a signed product under a REP prefix (16-bit operands at most there).
  const negate = signed && insn.rep !== 0 && cpu.model.repPrefixNegatesMulDiv ? -1 : 1;
  if (size === SIZE8) {
    const a = cpu.regs8[0];
    const product = signed ? ((a << 24) >> 24) * ((source << 24) >> 24) * negate : a * (source & 0xff);
    cpu.regs16[0] = product;
    overflow = signed ? product !== (product << 24) >> 24 : (product & 0xff00) !== 0;
  } else if (size === SIZE16) {
    const a = cpu.regs16[0];
    const product = signed ? ((a << 16) >> 16) * ((source << 16) >> 16) * negate : a * (source & 0xffff);
    cpu.regs16[0] = product;
    cpu.regs16[EDX << 1] = product >> 16;
    overflow = signed ? product !== (product << 16) >> 16 : (product & 0xffff0000) !== 0;
  } else {
    if (signed) mulS32(regs[EAX], source);
    else mulU32(regs[EAX], source);
    regs[EAX] = wide[0];
    regs[EDX] = wide[1];
    overflow = signed ? wide[1] !== wide[0] >> 31 : wide[1] !== 0;
  }
  // CF and OF report a significant upper half; SF, ZF, PF follow the low half (undefined by Intel).
  const low = size === SIZE8 ? cpu.regs8[0] : size === SIZE16 ? cpu.regs16[0] : regs[EAX];
  cpu.flags.setResultFlags(size, low, overflow ? FLAG_CF | FLAG_OF : 0);
}

function imulThreeOperand(cpu: Cpu, size: number, dest: number, a: number, b: number): void {
  let result: number;
  let overflow: boolean;
  if (size === SIZE16) {
    const product = ((a << 16) >> 16) * ((b << 16) >> 16);
    result = product & 0xffff;
    overflow = product !== (product << 16) >> 16;
  } else {
    mulS32(a, b);
    result = wide[0];
    overflow = wide[1] !== wide[0] >> 31;
  }
  cpu.setReg(size, dest, result);
  cpu.flags.setResultFlags(size, result, overflow ? FLAG_CF | FLAG_OF : 0);
}

/**
 * The divide error (#DE). A fault on the 80286 and later (the pushed IP is the DIV's own); on the
 * 8086 a trap taken after the instruction, so the pushed IP is the next instruction's.
 */
function divideError(cpu: Cpu): void {
  if (!cpu.model.divideErrorPushesNextIp) cpu.raise(EXC_DE);
  cpu.deliverInterrupt(EXC_DE, -1);
}

/** DIV/IDIV with #DE on a zero divisor or a quotient that does not fit. Flags are left as they are. */
function divide(cpu: Cpu, insn: Instruction, size: number, source: number, signed: boolean): void {
  const regs = cpu.regs;
  if (size < SIZE32) {
    const bits = size === SIZE8 ? 24 : 16;
    const divisor = signed ? (source << bits) >> bits : source & SIZE_MASK[size];
    if (divisor === 0) {
      divideError(cpu);
      return;
    }
    const dividend =
      size === SIZE8
        ? signed
          ? (cpu.regs16[0] << 16) >> 16
          : cpu.regs16[0]
        : signed
          ? (cpu.regs16[EDX << 1] << 16) | cpu.regs16[0]
          : ((cpu.regs16[EDX << 1] << 16) | cpu.regs16[0]) >>> 0;
    let quotient = Math.trunc(dividend / divisor);
    const remainder = dividend % divisor;
    const limit = size === SIZE8 ? 0x80 : 0x8000;
    if (signed) {
      // The 8086 microcode cannot produce the most negative quotient and raises #DE for it too.
      const lowest = cpu.model.idivRejectsMostNegativeQuotient ? -limit + 1 : -limit;
      if (quotient >= limit || quotient < lowest) {
        divideError(cpu);
        return;
      }
      if (insn.rep !== 0 && cpu.model.repPrefixNegatesMulDiv) quotient = -quotient;
    } else if (quotient > SIZE_MASK[size]) {
      divideError(cpu);
      return;
    }
    if (size === SIZE8) {
      cpu.regs8[0] = quotient;
      cpu.regs8[1] = remainder;
    } else {
      cpu.regs16[0] = quotient;
      cpu.regs16[EDX << 1] = remainder;
    }
    return;
  }
  if (source === 0) cpu.raise(EXC_DE);
  let high = regs[EDX];
  let low = regs[EAX];
  if (!signed) {
    if (high >>> 0 >= source >>> 0) cpu.raise(EXC_DE);
    const quotient = divU64by32(high, low, source);
    regs[EAX] = quotient;
    regs[EDX] = wide[1];
    return;
  }
  // Signed: divide magnitudes, then restore signs and check the range.
  const negativeDividend = high < 0;
  if (negativeDividend) {
    low = -low | 0;
    high = low === 0 ? -high | 0 : ~high;
  }
  const magnitude = source < 0 ? -source >>> 0 : source;
  if (high >>> 0 >= magnitude >>> 0) cpu.raise(EXC_DE);
  const q = divU64by32(high, low, magnitude) >>> 0;
  const r = wide[1];
  const negativeQuotient = negativeDividend !== source < 0;
  if (negativeQuotient ? q > 0x80000000 : q > 0x7fffffff) cpu.raise(EXC_DE);
  regs[EAX] = negativeQuotient ? -q | 0 : q | 0;
  regs[EDX] = negativeDividend ? -r | 0 : r | 0;
}

// -----------------------------------------------------------------------------------------------
// Bit operations.

/** BT/BTS/BTR/BTC. With a register bit offset and a memory operand, the offset addresses a bit string. */
function bitTest(
  cpu: Cpu,
  insn: Instruction,
  size: number,
  kind: number,
  bitOffset: number,
  fromReg: boolean,
): void {
  const bits = SIZE_BITS[size];
  let bit: number;
  let value: number;
  let offset = 0;
  if (insn.mod === 3) {
    bit = bitOffset & (bits - 1);
    value = cpu.getReg(size, insn.rm);
  } else {
    const signedOffset = fromReg ? signExtend(size, bitOffset) : bitOffset & (bits - 1);
    const displacement = Math.floor(signedOffset / bits) * (bits >> 3);
    offset = (cpu.effectiveAddress(insn) + displacement) & addressMask(insn);
    bit = signedOffset & (bits - 1);
    value = cpu.read(size, insn.segment, offset);
  }
  const cf = (value >>> bit) & 1;
  if (kind !== 0) {
    const m = 1 << bit;
    const result = kind === 1 ? value | m : kind === 2 ? value & ~m : value ^ m;
    if (insn.mod === 3) cpu.setReg(size, insn.rm, result);
    else cpu.write(size, insn.segment, offset, result);
  }
  cpu.flags.setArith(FLAG_CF, cf);
}

/** SHLD (left) / SHRD: shifts dest, filling from source; count is 1..31. */
function doubleShift(
  cpu: Cpu,
  size: number,
  dest: number,
  source: number,
  count: number,
  left: boolean,
): number {
  const bits = SIZE_BITS[size];
  const mask = SIZE_MASK[size];
  let result: number;
  let cf: number;
  if (size === SIZE16) {
    // Counts above 16 are undefined; P6-family CPUs shift the 48-bit value dest:source:dest, and so
    // does this. The bit pattern below the result is source (left) or dest then source (right).
    const d = dest & 0xffff;
    const s = source & 0xffff;
    if (left) {
      const temp = (d << 16) | s;
      let shifted = temp << count;
      if (count > 16) shifted |= d << (count - 16);
      result = shifted >>> 16;
      cf = (temp >>> (32 - count)) & 1;
    } else {
      const temp = (s << 16) | d;
      let shifted = temp >>> count;
      if (count > 16) shifted |= d << (32 - count);
      result = shifted & 0xffff;
      cf = (temp >>> (count - 1)) & 1;
    }
  } else if (left) {
    result = (dest << count) | (source >>> (bits - count));
    cf = (dest >>> (bits - count)) & 1;
  } else {
    result = (dest >>> count) | (source << (bits - count));
    cf = (dest >>> (count - 1)) & 1;
  }
  result &= mask;
  const sign = 1 << (bits - 1);
  const of = ((result ^ dest) & sign) !== 0 ? FLAG_OF : 0;
  cpu.flags.setResultFlags(size, result, cf | of);
  return result;
}

function cmpxchg8b(cpu: Cpu, insn: Instruction): void {
  const offset = cpu.effectiveAddress(insn);
  const next = (offset + 4) & addressMask(insn);
  const low = cpu.read32(insn.segment, offset);
  const high = cpu.read32(insn.segment, next);
  const regs = cpu.regs;
  if (low === regs[EAX] && high === regs[EDX]) {
    cpu.write32(insn.segment, offset, regs[EBX]);
    cpu.write32(insn.segment, next, regs[ECX]);
    cpu.flags.setArith(FLAG_ZF, FLAG_ZF);
  } else {
    cpu.write32(insn.segment, offset, low);
    cpu.write32(insn.segment, next, high);
    regs[EAX] = low;
    regs[EDX] = high;
    cpu.flags.setArith(FLAG_ZF, 0);
  }
}

// -----------------------------------------------------------------------------------------------
// BCD adjustments.

/**
 * DAA/DAS: adjust AL after a packed-BCD addition/subtraction. CF also takes the carry/borrow of the
 * low-digit adjustment, except on the 8086, which also compares the original AL with 0x9F instead of
 * 0x99 when AF is set.
 */
function decimalAdjust(cpu: Cpu, subtract: boolean): void {
  const f = cpu.flags;
  const al = cpu.regs8[0];
  const oldCf = f.cf();
  const af = f.af();
  let result = al;
  let flags = 0;
  if ((al & 0x0f) > 9 || af) {
    result = subtract ? al - 6 : al + 6;
    if (oldCf !== 0 || ((result & 0x100) !== 0 && !cpu.model.decimalAdjust8086)) flags |= FLAG_CF;
    flags |= FLAG_AF;
  }
  const threshold = af && cpu.model.decimalAdjust8086 ? 0x9f : 0x99;
  if (al > threshold || oldCf !== 0) {
    result = subtract ? result - 0x60 : result + 0x60;
    flags |= FLAG_CF;
  }
  cpu.regs8[0] = result;
  f.setResultFlags(SIZE8, result & 0xff, flags);
}

/**
 * AAA/AAS: adjust AX after an unpacked-BCD addition/subtraction. From the 80286 on the low-digit
 * adjustment is applied to AX (so it can carry into AH); the 8086 adjusts AL alone, then AH by one.
 */
function asciiAdjust(cpu: Cpu, subtract: boolean): void {
  const f = cpu.flags;
  if ((cpu.regs8[0] & 0x0f) > 9 || f.af()) {
    if (cpu.model.asciiAdjust8086) {
      cpu.regs8[0] += subtract ? -6 : 6;
      cpu.regs8[1] += subtract ? -1 : 1;
    } else if (subtract) {
      cpu.regs16[0] -= 6;
      cpu.regs8[1] -= 1;
    } else {
      cpu.regs16[0] += 0x106;
    }
    cpu.regs8[0] &= 0x0f;
    f.setArith(FLAG_AF | FLAG_CF, FLAG_AF | FLAG_CF);
  } else {
    cpu.regs8[0] &= 0x0f;
    f.setArith(FLAG_AF | FLAG_CF, 0);
  }
}

// -----------------------------------------------------------------------------------------------
// Stack.

export function push(cpu: Cpu, size: number, value: number): void {
  const bytes = size === SIZE32 ? 4 : 2;
  const sp = (cpu.getStackPointer() - bytes) & (cpu.stack32 ? -1 : 0xffff);
  if (size === SIZE32) cpu.write32(SS, sp, value);
  else cpu.write16(SS, sp, value);
  cpu.setStackPointer(sp);
}

/** Pops a value; `release` extra bytes are discarded afterwards (RET imm16). */
export function pop(cpu: Cpu, size: number, release = 0): number {
  const sp = cpu.getStackPointer();
  const value = size === SIZE32 ? cpu.read32(SS, sp) : cpu.read16(SS, sp);
  cpu.setStackPointer(sp + (size === SIZE32 ? 4 : 2) + release);
  return value;
}

function pushSegment(cpu: Cpu, size: number, segment: number): void {
  // A 32-bit push of a segment register writes only the low word on P6-family CPUs.
  const bytes = size === SIZE32 ? 4 : 2;
  const sp = (cpu.getStackPointer() - bytes) & (cpu.stack32 ? -1 : 0xffff);
  cpu.write16(SS, sp, cpu.segSelector[segment]);
  cpu.setStackPointer(sp);
}

function popSegment(cpu: Cpu, size: number, segment: number): void {
  const sp = cpu.getStackPointer();
  const selector = cpu.read16(SS, sp);
  cpu.loadSegment(segment, selector);
  cpu.setStackPointer(sp + (size === SIZE32 ? 4 : 2));
}

function pusha(cpu: Cpu, size: number): void {
  const bytes = size === SIZE32 ? 4 : 2;
  const mask = cpu.stack32 ? -1 : 0xffff;
  const start = cpu.getStackPointer();
  let sp = start;
  for (let r = 0; r < 8; r++) {
    sp = (sp - bytes) & mask;
    const value = r === ESP ? (size === SIZE32 ? start : start & 0xffff) : cpu.getReg(size, r);
    cpu.write(size, SS, sp, value);
  }
  cpu.setStackPointer(sp);
}

function popa(cpu: Cpu, size: number): void {
  const bytes = size === SIZE32 ? 4 : 2;
  const mask = cpu.stack32 ? -1 : 0xffff;
  let sp = cpu.getStackPointer();
  const values = popaScratch;
  for (let r = 7; r >= 0; r--) {
    values[r] = cpu.read(size, SS, sp);
    sp = (sp + bytes) & mask;
  }
  for (let r = 0; r < 8; r++) if (r !== ESP) cpu.setReg(size, r, values[r]);
  cpu.setStackPointer(sp);
}
const popaScratch = new Int32Array(8);

function enter(cpu: Cpu, size: number, frameSize: number, level: number): void {
  const bytes = size === SIZE32 ? 4 : 2;
  const mask = cpu.stack32 ? -1 : 0xffff;
  let sp = cpu.getStackPointer();
  let bp = cpu.stack32 ? cpu.regs[EBP] : cpu.regs16[EBP << 1];
  sp = (sp - bytes) & mask;
  cpu.write(size, SS, sp, cpu.getReg(size, EBP));
  const frame = sp;
  if (level > 0) {
    for (let i = 1; i < level; i++) {
      bp = (bp - bytes) & mask;
      sp = (sp - bytes) & mask;
      cpu.write(size, SS, sp, cpu.read(size, SS, bp));
    }
    sp = (sp - bytes) & mask;
    cpu.write(size, SS, sp, frame);
  }
  sp = (sp - frameSize) & mask;
  // The new stack top must be writable before anything is committed.
  cpu.linear(SS, sp, 1);
  cpu.setReg(size, EBP, frame);
  cpu.setStackPointer(sp);
}

function bound(cpu: Cpu, insn: Instruction, size: number): void {
  const offset = cpu.effectiveAddress(insn);
  const lower = signExtend(size, cpu.read(size, insn.segment, offset));
  const upper = signExtend(
    size,
    cpu.read(size, insn.segment, (offset + (size === SIZE32 ? 4 : 2)) & addressMask(insn)),
  );
  const index = signExtend(size, cpu.getReg(size, insn.reg));
  if (index < lower || index > upper) cpu.raise(EXC_BR);
}

// -----------------------------------------------------------------------------------------------
// Control transfer.

function branchMask(size: number): number {
  return size === SIZE16 ? 0xffff : -1;
}

function jumpRelative(cpu: Cpu, insn: Instruction): void {
  setBranchTarget(cpu, (cpu.eip + insn.immediate) & branchMask(insn.operandSize));
}

/** Near branches fault (#GP) on a target beyond the code segment's limit, before anything changes. */
function setBranchTarget(cpu: Cpu, target: number): void {
  if (target >>> 0 > cpu.segLimit[CS] >>> 0) cpu.raise(EXC_GP, 0);
  cpu.eip = target;
}

function jumpFar(cpu: Cpu, selector: number, offset: number): void {
  if (isProtected(cpu)) {
    jumpFarProtected(cpu, selector, offset);
    return;
  }
  cpu.loadSegment(CS, selector);
  cpu.eip = offset;
}

function callFar(cpu: Cpu, size: number, selector: number, offset: number): void {
  if (isProtected(cpu)) {
    callFarProtected(cpu, size, selector, offset);
    return;
  }
  const bytes = size === SIZE32 ? 4 : 2;
  const mask = cpu.stack32 ? -1 : 0xffff;
  const sp = cpu.getStackPointer();
  const csSlot = (sp - bytes) & mask;
  const ipSlot = (sp - 2 * bytes) & mask;
  if (size === SIZE32) {
    cpu.write32(SS, csSlot, cpu.segSelector[CS]);
    cpu.write32(SS, ipSlot, cpu.eip);
  } else {
    cpu.write16(SS, csSlot, cpu.segSelector[CS]);
    cpu.write16(SS, ipSlot, cpu.eip);
  }
  cpu.loadSegment(CS, selector);
  cpu.eip = offset;
  cpu.setStackPointer(ipSlot);
}

function returnFar(cpu: Cpu, size: number, release: number): void {
  if (isProtected(cpu)) {
    returnFarProtected(cpu, size, release);
    return;
  }
  const bytes = size === SIZE32 ? 4 : 2;
  const sp = cpu.getStackPointer();
  const mask = cpu.stack32 ? -1 : 0xffff;
  const offset = size === SIZE32 ? cpu.read32(SS, sp) : cpu.read16(SS, sp);
  const selector = cpu.read16(SS, (sp + bytes) & mask);
  cpu.loadSegment(CS, selector);
  cpu.eip = offset;
  cpu.setStackPointer(sp + 2 * bytes + release);
}

function iret(cpu: Cpu, size: number): void {
  // IRET ends NMI blocking (even when it faults later, as on hardware: the unblock is first).
  cpu.nmiBlocked = false;
  if (isProtected(cpu)) {
    iretProtected(cpu, size);
    return;
  }
  if ((cpu.flags.bits & FLAG_VM) !== 0) {
    // Virtual-8086 mode (IOPL 3): a real-mode style IRET that cannot change IOPL or leave the mode.
    checkVirtual8086Iopl(cpu);
    const bytes = size === SIZE32 ? 4 : 2;
    const sp = cpu.getStackPointer();
    const mask = cpu.stack32 ? -1 : 0xffff;
    const offset = bytes === 4 ? cpu.read32(SS, sp) : cpu.read16(SS, sp);
    const selector = cpu.read16(SS, (sp + bytes) & mask);
    const flags =
      bytes === 4 ? cpu.read32(SS, (sp + 2 * bytes) & mask) : cpu.read16(SS, (sp + 2 * bytes) & mask);
    cpu.loadSegment(CS, selector);
    cpu.eip = offset & 0xffff;
    cpu.setFlagsForIret(flags, bytes, 3);
    cpu.setStackPointer(sp + 3 * bytes);
    return;
  }
  const bytes = size === SIZE32 ? 4 : 2;
  const sp = cpu.getStackPointer();
  const mask = cpu.stack32 ? -1 : 0xffff;
  const offset = size === SIZE32 ? cpu.read32(SS, sp) : cpu.read16(SS, sp);
  const selector = cpu.read16(SS, (sp + bytes) & mask);
  const flags =
    size === SIZE32 ? cpu.read32(SS, (sp + 2 * bytes) & mask) : cpu.read16(SS, (sp + 2 * bytes) & mask);
  cpu.loadSegment(CS, selector);
  cpu.eip = offset;
  const writable = cpu.model.realModeWritableFlags;
  const flagMask = size === SIZE32 ? writable | FLAG_RF : writable & 0xffff;
  cpu.flags.load(
    (cpu.flags.get() & ~flagMask & ~(size === SIZE32 ? FLAG_VIP | FLAG_VIF : 0)) | (flags & flagMask),
  );
  cpu.setStackPointer(sp + 3 * bytes);
}

function loadFarPointer(cpu: Cpu, insn: Instruction, size: number, segment: number): void {
  const offset = cpu.effectiveAddress(insn);
  const value = cpu.read(size, insn.segment, offset);
  const selector = cpu.read16(insn.segment, (offset + (size === SIZE32 ? 4 : 2)) & addressMask(insn));
  cpu.loadSegment(segment, selector);
  cpu.setReg(size, insn.reg, value);
}

// -----------------------------------------------------------------------------------------------
// System instructions.

function group7(cpu: Cpu, insn: Instruction, size: number): void {
  switch (insn.reg) {
    case 0: // SGDT
    case 1: {
      // SIDT
      if (insn.mod === 3) cpu.undefinedOpcode();
      const offset = cpu.effectiveAddress(insn);
      const limit = insn.reg === 0 ? cpu.gdtLimit : cpu.idtLimit;
      const base = insn.reg === 0 ? cpu.gdtBase : cpu.idtBase;
      cpu.write16(insn.segment, offset, limit);
      // With a 16-bit operand the top byte of the base is stored as zero.
      cpu.write32(insn.segment, (offset + 2) & addressMask(insn), size === SIZE16 ? base & 0xffffff : base);
      return;
    }
    case 2: // LGDT
    case 3: {
      // LIDT
      if (insn.mod === 3) cpu.undefinedOpcode();
      requirePrivilege0(cpu);
      const offset = cpu.effectiveAddress(insn);
      const limit = cpu.read16(insn.segment, offset);
      let base = cpu.read32(insn.segment, (offset + 2) & addressMask(insn));
      if (size === SIZE16) base &= 0xffffff;
      if (insn.reg === 2) {
        cpu.gdtLimit = limit;
        cpu.gdtBase = base;
      } else {
        cpu.idtLimit = limit;
        cpu.idtBase = base;
      }
      return;
    }
    case 4: // SMSW: a register destination at 32 bits receives all of CR0
      if (insn.mod === 3) cpu.setReg(size, insn.rm, cpu.cr0);
      else cpu.write16(insn.segment, cpu.effectiveAddress(insn), cpu.cr0);
      return;
    case 6: {
      // LMSW: loads PE, MP, EM, TS; it can set PE but never clear it.
      requirePrivilege0(cpu);
      const value = cpu.readModrm(insn, SIZE16) & 0xf;
      writeControlRegister(cpu, 0, (cpu.cr0 & ~0xe) | value | (cpu.cr0 & CR0_PE));
      return;
    }
    case 7: // INVLPG
      if (insn.mod === 3) cpu.undefinedOpcode();
      requirePrivilege0(cpu);
      cpu.invalidatePage((cpu.segBase[insn.segment] + cpu.effectiveAddress(insn)) | 0);
      return;
    default:
      cpu.undefinedOpcode();
  }
}

function readControlRegister(cpu: Cpu, n: number): number {
  switch (n) {
    case 0:
      return cpu.cr0;
    case 2:
      return cpu.cr2;
    case 3:
      return cpu.cr3;
    case 4:
      return cpu.cr4;
    default:
      return cpu.undefinedOpcode();
  }
}

/** CR4 bits this CPU implements: TSD, DE, PSE, PAE, PGE, PCE, OSFXSR, OSXMMEXCPT. */
const CR4_SUPPORTED = 0x4 | 0x8 | 0x10 | 0x20 | 0x80 | 0x100 | 0x200 | 0x400;

function writeControlRegister(cpu: Cpu, n: number, value: number): void {
  switch (n) {
    case 0:
      // PG needs PE; NW (not write-through) needs CD (cache disable).
      if ((value & CR0_PG) !== 0 && (value & CR0_PE) === 0) cpu.raise(EXC_GP, 0);
      if ((value & (1 << 29)) !== 0 && (value & (1 << 30)) === 0) cpu.raise(EXC_GP, 0);
      cpu.setCr0(value | 0x10); // ET is fixed to 1 on P6
      if ((value & CR0_PE) === 0) cpu.cpl = 0;
      return;
    case 2:
      cpu.cr2 = value;
      return;
    case 3:
      cpu.setCr3(value);
      return;
    case 4:
      if ((value & ~CR4_SUPPORTED) !== 0) cpu.raise(EXC_GP, 0);
      cpu.setCr4(value);
      return;
    default:
      cpu.undefinedOpcode();
  }
}

function x87Escape(cpu: Cpu, insn: Instruction): void {
  // With EM or TS set, x87 instructions trap (#NM) so an OS can emulate or switch the FPU.
  if ((cpu.cr0 & (CR0_EM | CR0_TS)) !== 0) cpu.raise(EXC_NM);
  executeX87(cpu, insn);
}

export { parity };
