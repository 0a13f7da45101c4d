/** One interrupt line driven by a device (rust-vmm's Trigger, as a wire level). */
export interface Trigger {
  set(asserted: boolean): void;
}
