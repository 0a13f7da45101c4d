// The virtio guest's side: the helper functions it carries in /etc/tsvmm/virtio.sh (module loading,
// the device list, the self-tests and the block benchmark), the /init body that runs them, and a
// parser for what they print. Everything the guest does is chosen on the kernel command line:
//
//   tsvmm.test=blk,rng,net,console,bench   run these tests in order, print the results, power off
//                                           (no tsvmm.test: an interactive shell with the helpers)
//   tsvmm.blk=/dev/vda                     blk: the ext4 disk to mount, read and write
//   tsvmm.ip=10.0.2.15/24                  net: the address given to the first ethN
//   tsvmm.peer=10.0.2.16                   net: the address to ping (none: only bring the link up)
//   tsvmm.echos=4                          net: stay up until this many echo requests came in, then
//                                           2-3 quiet seconds (default 4 with a peer: its probe and its
//                                           3 counted pings; 0 without)
//   tsvmm.net_wait=120                     net: seconds to wait for the peer
//   tsvmm.hvc_read=1                       console: also read one line from /dev/hvc0
//   tsvmm.bench_dev=/dev/vdb               bench: the raw disk (its contents are overwritten)
//   tsvmm.bench_mib=64                     bench: MiB written, then read, with O_DIRECT, bs=1M

/** Lines only the virtio guest prints (besides the common boot marker). */
export const VIRTIO_GUEST_MARKERS = {
  /** "TSVMM-MODULE-FAILED <module> <insmod's message>": a module did not load. */
  moduleFailed: "TSVMM-MODULE-FAILED",
  /** "TSVMM-MODULES-OK <count>": every module in /etc/tsvmm/modules loaded. */
  modulesOk: "TSVMM-MODULES-OK",
  /** "TSVMM-VIRTIO-DEVICE virtio0 id=2 driver=virtio_blk transport=virtio-pci", one per device. */
  device: "TSVMM-VIRTIO-DEVICE",
  /** "TSVMM-TEST-START <test>". */
  testStart: "TSVMM-TEST-START",
  /** "TSVMM-TEST-OK <test>". */
  testOk: "TSVMM-TEST-OK",
  /** "TSVMM-TEST-FAILED <test> <why>". */
  testFailed: "TSVMM-TEST-FAILED",
  /** "TSVMM-BLK-READ tsvmm-in.bin md5=<md5|none>": what the blk test read from the disk. */
  blkRead: "TSVMM-BLK-READ",
  /** "TSVMM-RNG bytes=<64 hex digits>": 32 bytes read from /dev/hwrng. */
  rng: "TSVMM-RNG",
  /** "TSVMM-NET eth0 mac=52:54:00:12:34:56 ip=10.0.2.15/24". */
  net: "TSVMM-NET",
  /** "TSVMM-NET-PING peer=<ip> transmitted=3 received=3 avg-ms=<ms>". */
  netPing: "TSVMM-NET-PING",
  /** "TSVMM-HVC-READ <line>": the line the console test read from /dev/hvc0. */
  hvcRead: "TSVMM-HVC-READ",
  /** "TSVMM-BENCH-START <step>": printed just before a timed step, for host-side timing. */
  benchStart: "TSVMM-BENCH-START",
  /** "TSVMM-BENCH <step> MiB=<n> us=<µs> MiB/s=<x.yy>". */
  bench: "TSVMM-BENCH",
  /** "TSVMM-VIRTIO-DONE ok|failed": the tests are over; the guest powers off next. */
  done: "TSVMM-VIRTIO-DONE",
} as const;

/** What the guest writes to /dev/hvc0 in the console test, followed by ` <uname -r>`. */
export const VIRTIO_HVC_HELLO = "TSVMM-HVC-HELLO";

export type VirtioGuestTest = "blk" | "rng" | "net" | "console" | "bench";
export const VIRTIO_GUEST_TESTS: readonly VirtioGuestTest[] = ["blk", "rng", "net", "console", "bench"];

/** The blk test's files, at the root of the ext4 file system on tsvmm.blk. */
export const VIRTIO_BLK_TEST = {
  device: "/dev/vda",
  /** Read by the guest if present; its md5 goes into the output file. */
  inputFile: "tsvmm-in.bin",
  /** Written by the guest: "tsvmm-in.bin md5=<md5|none>\n". */
  outputFile: "tsvmm-out.txt",
  /** Written by the guest: `yes <patternLine> | head -c <patternBytes>`, then read back after a remount. */
  patternFile: "tsvmm-pattern.bin",
  patternLine: "tsvmm-virtio-blk",
  patternBytes: 1024 * 1024,
} as const;

/** The benchmark's defaults (tsvmm.bench_dev, tsvmm.bench_mib); steps run in this order. */
export const VIRTIO_BENCH_PARAMETERS = {
  device: "/dev/vdb",
  mib: 64,
  blockSize: "1M",
  steps: ["blk-write", "blk-read"],
} as const;

/** The guest's output file for an input of this md5 (undefined: there was no input file). */
export function expectedBlkOutput(inputMd5: string | undefined): string {
  return `${VIRTIO_BLK_TEST.inputFile} md5=${inputMd5 ?? "none"}\n`;
}

/** The file that lists the modules /init loads, one "<name> <path under /lib/modules/<version>>" a line. */
export const VIRTIO_MODULE_LIST = "/etc/tsvmm/modules";
/** The helpers, sourced by /init and (through $ENV) by the interactive shell. */
export const VIRTIO_HELPERS = "/etc/tsvmm/virtio.sh";

/** The module list file's text for modules in load order. */
export function virtioModuleListText(modules: readonly { name: string; path: string }[]): string {
  return modules.map((module) => `${module.name} ${module.path}\n`).join("");
}

const V = VIRTIO_GUEST_MARKERS;
const B = VIRTIO_BLK_TEST;
const P = VIRTIO_BENCH_PARAMETERS;

/** /etc/tsvmm/virtio.sh: busybox sh functions; nothing runs when it is sourced. */
export function virtioHelpersScript(): string {
  return `# tsvmm virtio guest helpers, generated by tools/src/linux-guests/virtio-guest-init.ts.
# Sourced by /init and by the interactive shell ($ENV). Parameters: tsvmm.<name>=<value> on the
# kernel command line; see the file above for the list.

# cmdline_param NAME DEFAULT: the value of tsvmm.NAME on the kernel command line, else DEFAULT.
cmdline_param() {
  ( set -f
    for word in $(cat "\${TSVMM_CMDLINE_FILE:-/proc/cmdline}"); do
      case "$word" in
        "tsvmm.$1="*) echo "\${word#*=}"; exit 0 ;;
      esac
    done
    echo "$2" )
}

# Whole seconds since boot.
uptime_s() {
  read -r up rest < /proc/uptime
  echo "\${up%.*}"
}

# Microseconds since the epoch from busybox ts; the leading 1 keeps $(( )) from reading 0-padded
# digits as octal.
now_us() {
  t=$(echo | ts '%.s')
  t=\${t%% *}
  echo $(( \${t%.*} * 1000000 + 1\${t#*.} - 1000000 ))
}

# wait_for PATH [SECONDS]: waits for a device node or file to appear (default 10 s).
wait_for() {
  n=$(( \${2:-10} * 10 ))
  while [ ! -e "$1" ]; do
    [ $n -gt 0 ] || return 1
    n=$((n - 1))
    sleep 0.1
  done
}

# Loads the modules of ${VIRTIO_MODULE_LIST} in its order (each after its dependencies).
load_modules() {
  modules_ok=1
  count=0
  while read -r name path; do
    [ -n "$name" ] || continue
    count=$((count + 1))
    if ! out=$(insmod "/lib/modules/$(uname -r)/$path" 2>&1); then
      echo "${V.moduleFailed} $name $(echo "$out" | tr '\\n' ' ')"
      modules_ok=0
    fi
  done < ${VIRTIO_MODULE_LIST}
  [ $modules_ok = 1 ] && echo "${V.modulesOk} $count"
}

# One line per virtio device: its device ID, the driver bound to it and its transport's driver.
list_virtio_devices() {
  for dev in /sys/bus/virtio/devices/virtio*; do
    [ -e "$dev/device" ] || continue
    id=$(($(cat "$dev/device")))
    driver=none
    [ -e "$dev/driver" ] && driver=$(basename "$(readlink "$dev/driver")")
    transport=none
    parent=$(dirname "$(readlink -f "$dev")")
    [ -e "$parent/driver" ] && transport=$(basename "$(readlink "$parent/driver")")
    echo "${V.device} $(basename "$dev") id=$id driver=$driver transport=$transport"
  done
}

failed=0
test_ok() {
  echo "${V.testOk} $1"
}
test_failed() {
  echo "${V.testFailed} $*"
  failed=1
}

# blk: mounts the ext4 disk, reads ${B.inputFile} (if any), writes ${B.outputFile} and
# ${B.patternFile}, remounts and checks what it wrote.
test_blk() {
  dev=$(cmdline_param blk ${B.device})
  wait_for "$dev" || { test_failed blk "no $dev"; return; }
  mount -t ext4 "$dev" /mnt || { test_failed blk "cannot mount $dev as ext4"; return; }
  in_md5=none
  if [ -f /mnt/${B.inputFile} ]; then
    in_md5=$(md5sum < /mnt/${B.inputFile})
    in_md5=\${in_md5%% *}
  fi
  echo "${V.blkRead} ${B.inputFile} md5=$in_md5"
  echo "${B.inputFile} md5=$in_md5" > /mnt/${B.outputFile}
  yes ${B.patternLine} | head -c ${B.patternBytes} > /mnt/${B.patternFile}
  sync
  umount /mnt || { test_failed blk "umount failed"; return; }
  # The page cache went with the unmount: what is read now comes from the disk.
  mount -t ext4 -o ro "$dev" /mnt || { test_failed blk "cannot mount $dev again"; return; }
  got_out=$(cat /mnt/${B.outputFile})
  got_md5=$(md5sum < /mnt/${B.patternFile})
  want_md5=$(yes ${B.patternLine} | head -c ${B.patternBytes} | md5sum)
  umount /mnt
  [ "$got_out" = "${B.inputFile} md5=$in_md5" ] || { test_failed blk "read back '$got_out'"; return; }
  [ "\${got_md5%% *}" = "\${want_md5%% *}" ] || { test_failed blk "pattern md5 \${got_md5%% *}"; return; }
  test_ok blk
}

# rng: /dev/hwrng must be virtio's and give two different 32-byte reads.
test_rng() {
  wait_for /dev/hwrng || { test_failed rng "no /dev/hwrng"; return; }
  current=$(cat /sys/class/misc/hw_random/rng_current)
  case "$current" in
    virtio_rng*) ;;
    *) test_failed rng "rng_current is '$current'"; return ;;
  esac
  a=$(timeout 10 dd if=/dev/hwrng bs=32 count=1 iflag=fullblock 2>/dev/null | xxd -p | tr -d '\\n')
  b=$(timeout 10 dd if=/dev/hwrng bs=32 count=1 iflag=fullblock 2>/dev/null | xxd -p | tr -d '\\n')
  echo "${V.rng} bytes=$a"
  [ \${#a} = 64 ] && [ \${#b} = 64 ] || { test_failed rng "short read: '$a' '$b'"; return; }
  [ "$a" != "$b" ] || { test_failed rng "two reads gave the same bytes"; return; }
  test_ok rng
}

# Echo requests this guest has answered, from /proc/net/snmp.
icmp_in_echos() {
  awk '/^Icmp:/ { if (!seen) { for (i = 1; i <= NF; i++) if ($i == "InEchos") col = i; seen = 1 } else print $col }' /proc/net/snmp
}

# net: gives the first ethN tsvmm.ip, pings tsvmm.peer (when given) and stays up until tsvmm.echos
# echo requests have come in, so a peer running the same test gets its answers too.
test_net() {
  ip=$(cmdline_param ip 10.0.2.15/24)
  peer=$(cmdline_param peer "")
  net_wait=$(cmdline_param net_wait 120)
  if [ -n "$peer" ]; then echos=$(cmdline_param echos 4); else echos=$(cmdline_param echos 0); fi
  dev=
  for path in /sys/class/net/eth*; do
    [ -e "$path" ] && { dev=$(basename "$path"); break; }
  done
  [ -n "$dev" ] || { test_failed net "no ethN interface"; return; }
  ip addr add "$ip" dev "$dev" && ip link set "$dev" up || { test_failed net "cannot configure $dev"; return; }
  echo "${V.net} $dev mac=$(cat /sys/class/net/$dev/address) ip=$ip"
  deadline=$(( $(uptime_s) + net_wait ))
  if [ -n "$peer" ]; then
    until ping -c 1 -W 2 "$peer" > /dev/null 2>&1; do
      [ $(uptime_s) -lt $deadline ] || { test_failed net "no reply from $peer in \${net_wait}s"; return; }
    done
    out=$(ping -c 3 -W 5 "$peer")
    received=$(echo "$out" | sed -n 's/.* \\([0-9]*\\) packets received.*/\\1/p')
    avg=$(echo "$out" | sed -n 's|.*= [0-9.]*/\\([0-9.]*\\)/.*|\\1|p')
    echo "${V.netPing} peer=$peer transmitted=3 received=\${received:-0} avg-ms=\${avg:-none}"
    [ "$received" = 3 ] || { test_failed net "$peer answered \${received:-0} of 3 pings"; return; }
  fi
  # Wait for the peer's echo requests, then for 2 quiet seconds: a peer whose probe timed out under
  # load sends more than it counts, and its last ping must still be answered.
  last=-1
  quiet_since=$(uptime_s)
  while :; do
    seen=$(icmp_in_echos)
    [ "$seen" = "$last" ] || { last=$seen; quiet_since=$(uptime_s); }
    [ "$seen" -ge "$echos" ] && [ $(( $(uptime_s) - quiet_since )) -ge 3 ] && break
    [ $(uptime_s) -lt $deadline ] || { test_failed net "only $seen of $echos echo requests came"; return; }
    sleep 0.2
  done
  test_ok net
}

# console: writes a line to the virtio console /dev/hvc0 and, with tsvmm.hvc_read=1, reads one. The
# port stays open throughout (fd 3): data the host sends while the port is open is never dropped.
test_console() {
  wait_for /dev/hvc0 || { test_failed console "no /dev/hvc0"; return; }
  exec 3<> /dev/hvc0 || { test_failed console "cannot open /dev/hvc0"; return; }
  # Raw and without echo: the host reads back only what the guest wrote, byte for byte.
  stty raw -echo <&3 || { exec 3<&-; test_failed console "stty failed"; return; }
  echo "${VIRTIO_HVC_HELLO} $(uname -r)" >&3 || { exec 3<&-; test_failed console "write failed"; return; }
  if [ "$(cmdline_param hvc_read 0)" = 1 ]; then
    line=
    read -t 30 -r line <&3
    line=$(echo "$line" | tr -d '\r')
    echo "${V.hvcRead} $line"
    [ -n "$line" ] || { exec 3<&-; test_failed console "nothing read from /dev/hvc0 in 30 s"; return; }
  fi
  exec 3<&-
  test_ok console
}

# bench_step NAME MIB COMMAND...: times the command and prints MiB/s with two decimals. busybox dd
# opens with O_DIRECT and uses page-aligned (mmap) buffers; it drops O_DIRECT only after an EINVAL,
# which whole 1 MiB transfers on 512-byte sectors never get.
bench_step() {
  name=$1
  mib=$2
  shift 2
  sync
  echo "${V.benchStart} $name"
  start=$(now_us)
  "$@" 2> /dev/null || { test_failed bench "$name: exit status $?"; return 1; }
  us=$(( $(now_us) - start ))
  [ $us -gt 0 ] || us=1
  centi=$(( mib * 100000000 / us ))
  echo "${V.bench} $name MiB=$mib us=$us MiB/s=$((centi / 100)).$(printf %02d $((centi % 100)))"
}

# bench: sequential direct-I/O write, then read, of tsvmm.bench_mib MiB on tsvmm.bench_dev.
test_bench() {
  dev=$(cmdline_param bench_dev ${P.device})
  mib=$(cmdline_param bench_mib ${P.mib})
  wait_for "$dev" || { test_failed bench "no $dev"; return; }
  size=$(blockdev --getsize64 "$dev")
  [ "$size" -ge $((mib * 1048576)) ] || { test_failed bench "$dev has $size bytes, under $mib MiB"; return; }
  bench_step blk-write "$mib" dd if=/dev/zero of="$dev" bs=${P.blockSize} count="$mib" oflag=direct || return
  bench_step blk-read "$mib" dd if="$dev" of=/dev/null bs=${P.blockSize} count="$mib" iflag=direct || return
  test_ok bench
}

# run_tests blk,rng,...: runs the tests in order, then prints the done line.
run_tests() {
  for name in $(echo "$1" | tr ',' ' '); do
    case "$name" in
      ${VIRTIO_GUEST_TESTS.join("|")}) echo "${V.testStart} $name"; test_$name ;;
      *) test_failed "$name" "no such test" ;;
    esac
  done
  echo "${V.done} $([ $failed = 0 ] && echo ok || echo failed)"
}
`;
}

/** The virtio variant's /init after the common prologue (mounts and power_off). */
export function virtioInitBody(bootMarker: string, prompt: string): string {
  return `
boot_step mount -t tmpfs tmpfs /tmp
. ${VIRTIO_HELPERS}
load_modules
[ "$boot_ok" = 1 ] && echo "${bootMarker}"
list_virtio_devices
tests=$(cmdline_param test "")
if [ -n "$tests" ]; then
  run_tests "$tests"
  power_off
fi
echo "tsvmm virtio guest: kernel $(uname -r) ($(uname -m)); helpers from ${VIRTIO_HELPERS} (e.g. run_tests blk); 'exit' powers off"
cd /root
export PS1='${prompt}' ENV=${VIRTIO_HELPERS}
setsid cttyhack sh
power_off
`;
}

/** What a virtio guest printed, read back from its console output. */
export interface VirtioReport {
  /** Modules that failed to load, with insmod's message. */
  moduleFailures: { module: string; message: string }[];
  /** All modules loaded (the modules-ok line was printed). */
  modulesOk: boolean;
  devices: { name: string; id: number; driver: string; transport: string }[];
  /** Tests that printed their ok line. */
  passed: string[];
  failures: { test: string; why: string }[];
  /** The blk test's reading of its input file ("none" when there was none). */
  blkInputMd5: string | undefined;
  rngBytes: string | undefined;
  net: { device: string; mac: string; ip: string } | undefined;
  ping: { peer: string; received: number; avgMs: number | undefined } | undefined;
  hvcRead: string | undefined;
  /** Per benchmark step: MiB moved and the guest-measured microseconds and MiB/s. */
  bench: Record<string, { mib: number; us: number; mibPerSecond: number }>;
  /** The done line came. */
  done: boolean;
  /** Done, all modules loaded and no test failed. */
  ok: boolean;
}

const DEVICE_FIELDS = /^(\S+) id=(\d+) driver=(\S+) transport=(\S+)$/;
const BENCH_FIELDS = /^(\S+) MiB=(\d+) us=(\d+) MiB\/s=(\d+\.\d+)$/;
const NET_FIELDS = /^(\S+) mac=(\S+) ip=(\S+)$/;
const PING_FIELDS = /^peer=(\S+) transmitted=\d+ received=(\d+) avg-ms=(\S+)$/;

/** "<first word> <rest>" -> [first word, rest]; the rest is "" when there is none. */
function splitFirst(text: string): [string, string] {
  const space = text.indexOf(" ");
  return space < 0 ? [text, ""] : [text.slice(0, space), text.slice(space + 1)];
}

/** Parses console output (CR LF or LF, kernel messages in between) for the virtio guest's lines. */
export function parseVirtioReport(consoleOutput: string): VirtioReport {
  const report: VirtioReport = {
    moduleFailures: [],
    modulesOk: false,
    devices: [],
    passed: [],
    failures: [],
    blkInputMd5: undefined,
    rngBytes: undefined,
    net: undefined,
    ping: undefined,
    hvcRead: undefined,
    bench: {},
    done: false,
    ok: false,
  };
  let doneOk = false;
  for (const rawLine of consoleOutput.split("\n")) {
    const [marker, rest] = splitFirst(rawLine.replace(/\r+$/, ""));
    switch (marker) {
      case V.moduleFailed: {
        const [module, message] = splitFirst(rest);
        report.moduleFailures.push({ module, message: message.trim() });
        break;
      }
      case V.modulesOk:
        report.modulesOk = true;
        break;
      case V.device: {
        const match = DEVICE_FIELDS.exec(rest);
        if (match !== null)
          report.devices.push({
            name: match[1]!,
            id: Number(match[2]),
            driver: match[3]!,
            transport: match[4]!,
          });
        break;
      }
      case V.testOk:
        report.passed.push(rest);
        break;
      case V.testFailed: {
        const [test, why] = splitFirst(rest);
        report.failures.push({ test, why });
        break;
      }
      case V.blkRead:
        report.blkInputMd5 = /md5=(\S+)$/.exec(rest)?.[1];
        break;
      case V.rng:
        report.rngBytes = /^bytes=(\S*)$/.exec(rest)?.[1];
        break;
      case V.net: {
        const match = NET_FIELDS.exec(rest);
        if (match !== null) report.net = { device: match[1]!, mac: match[2]!, ip: match[3]! };
        break;
      }
      case V.netPing: {
        const match = PING_FIELDS.exec(rest);
        if (match === null) break;
        const avg = Number(match[3]);
        report.ping = {
          peer: match[1]!,
          received: Number(match[2]),
          avgMs: Number.isFinite(avg) ? avg : undefined,
        };
        break;
      }
      case V.hvcRead:
        report.hvcRead = rest;
        break;
      case V.bench: {
        const match = BENCH_FIELDS.exec(rest);
        if (match !== null)
          report.bench[match[1]!] = {
            mib: Number(match[2]),
            us: Number(match[3]),
            mibPerSecond: Number(match[4]),
          };
        break;
      }
      case V.done:
        report.done = true;
        doneOk = rest === "ok";
        break;
    }
  }
  report.ok =
    report.done &&
    doneOk &&
    report.modulesOk &&
    report.moduleFailures.length === 0 &&
    report.failures.length === 0;
  return report;
}
