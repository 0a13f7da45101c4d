// Register offsets and bit names of the 16550A UART (National Semiconductor PC16550D datasheet).

/** Register offsets inside the UART's 8-byte range. Offsets 0 and 1 are the divisor latch while LCR.DLAB is set. */
export const UartRegister = {
  /** Read: receiver buffer (RBR). Write: transmitter holding register (THR). DLAB=1: divisor latch low (DLL). */
  Data: 0,
  /** Interrupt enable (IER). DLAB=1: divisor latch high (DLM). */
  InterruptEnable: 1,
  /** Read: interrupt identification (IIR). Write: FIFO control (FCR). */
  InterruptIdFifoControl: 2,
  LineControl: 3,
  ModemControl: 4,
  LineStatus: 5,
  ModemStatus: 6,
  Scratch: 7,
} as const;

/** IER bits. */
export const Ier = {
  ReceivedDataAvailable: 0x01,
  TransmitterHoldingEmpty: 0x02,
  ReceiverLineStatus: 0x04,
  ModemStatus: 0x08,
} as const;

/** IIR values: bit 0 clear means an interrupt is pending, bits 1-3 name it, bits 6-7 are set while FIFOs are on. */
export const Iir = {
  NoInterrupt: 0x01,
  ModemStatus: 0x00,
  TransmitterHoldingEmpty: 0x02,
  ReceivedDataAvailable: 0x04,
  ReceiverLineStatus: 0x06,
  CharacterTimeout: 0x0c,
  /** Mask of the interrupt identification bits (0-3). */
  IdMask: 0x0f,
  FifosEnabled: 0xc0,
} as const;

/** FCR bits. */
export const Fcr = {
  EnableFifos: 0x01,
  ResetReceiveFifo: 0x02,
  ResetTransmitFifo: 0x04,
  DmaMode: 0x08,
  /** Bits 6-7: receive FIFO trigger level 1, 4, 8 or 14 bytes. */
  TriggerMask: 0xc0,
  Trigger1: 0x00,
  Trigger4: 0x40,
  Trigger8: 0x80,
  Trigger14: 0xc0,
} as const;

/** LCR bits. */
export const Lcr = {
  WordLengthMask: 0x03,
  TwoStopBits: 0x04,
  ParityEnable: 0x08,
  EvenParity: 0x10,
  StickParity: 0x20,
  SetBreak: 0x40,
  DivisorLatchAccess: 0x80,
} as const;

/** MCR bits; bits 5-7 do not exist on the 16550A and read as 0. */
export const Mcr = {
  DataTerminalReady: 0x01,
  RequestToSend: 0x02,
  Out1: 0x04,
  /** On a PC, gates the UART's interrupt output onto the IRQ line. */
  Out2: 0x08,
  Loopback: 0x10,
} as const;

/** LSR bits. */
export const Lsr = {
  DataReady: 0x01,
  OverrunError: 0x02,
  ParityError: 0x04,
  FramingError: 0x08,
  BreakInterrupt: 0x10,
  TransmitterHoldingEmpty: 0x20,
  TransmitterEmpty: 0x40,
  /** Set while FIFOs are on and at least one byte in the receive FIFO carries a parity, framing or break error. */
  ReceiveFifoError: 0x80,
} as const;

/** MSR bits: 0-3 are change indications (cleared when MSR is read), 4-7 the current modem input levels. */
export const Msr = {
  DeltaClearToSend: 0x01,
  DeltaDataSetReady: 0x02,
  TrailingEdgeRingIndicator: 0x04,
  DeltaDataCarrierDetect: 0x08,
  ClearToSend: 0x10,
  DataSetReady: 0x20,
  RingIndicator: 0x40,
  DataCarrierDetect: 0x80,
} as const;
