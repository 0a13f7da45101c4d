/**
 * A device on a PIO or MMIO bus (rust-vmm's BusDevice). The bus passes the base the device was registered at and the
 * offset inside its range; data.length is the access size (1, 2, 4 or 8), little-endian. read() fills data.
 */
export interface BusDevice {
  read(base: number, offset: number, data: Uint8Array): void;
  write(base: number, offset: number, data: Uint8Array): void;
}
