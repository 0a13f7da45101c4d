/** One entry of QEMU's -initrd list for a multiboot kernel. */
export interface MultibootModuleSpec {
  /** The file to load: the entry up to its first space. */
  path: string;
  /** The module's string for the kernel: the whole entry, file name and arguments. */
  string: string;
}

/**
 * Splits QEMU's `-initrd "file1 arg,file2"` for a multiboot kernel into modules, as QEMU does: entries
 * are separated by commas (",," stands for a literal comma), each is a file name optionally followed
 * by a space and arguments, and the whole entry becomes the module's string.
 */
export function splitMultibootModuleList(argument: string): MultibootModuleSpec[] {
  const entries: string[] = [];
  let current = "";
  for (let i = 0; i < argument.length; i++) {
    const char = argument[i];
    if (char !== ",") {
      current += char;
    } else if (argument[i + 1] === ",") {
      current += ",";
      i++;
    } else {
      entries.push(current);
      current = "";
    }
  }
  entries.push(current);
  return entries.map((entry) => {
    const space = entry.indexOf(" ");
    return { path: space < 0 ? entry : entry.slice(0, space), string: entry };
  });
}
