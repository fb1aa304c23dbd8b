#!/usr/bin/env python3
"""Zero the GPU code a CUDA library carries for every architecture but one, so that it compresses small.

    fatbin_keep_arch.py SRC DST --arch 90

ONNX Runtime's CUDA provider (libonnxruntime_providers_cuda.so, 284 MB) is mostly its .nv_fatbin section: already
zstd-compressed cubins for sm_75, 80, 86, 89, 90 and 120 (218 MB), which no compressor shrinks. A GPU runs only
the cubins of its own architecture (SASS is not portable across architectures; PTX, which a driver could compile,
is kept whatever its target). Filling the other payloads with zeros keeps every header, offset and symbol as it was
(the file keeps its size; only the zeros compress away), so the library loads as before and a sm_ARCH GPU picks the
same cubins it would have picked. The device check of tools/gpu-check.sh carries the library this way because the
whole of it does not fit in what a device run may carry.

Layout (as the CUDA fatbinary container is documented by the tools that read it): a section holds containers,
each a 16-byte header (magic 0xBA55ED50, version 1, header size, size of what follows) then entries, each a header
(kind 1 = PTX, 2 = cubin; its own size; padded payload size; ...; sm architecture at byte 28) followed by the
payload. The walk must consume the section exactly, or nothing is written.
"""
import argparse
import hashlib
import struct
import sys

MAGIC = 0xBA55ED50
PTX = 1


def elf_section(data, name):
    """(offset, size) of a section of a 64-bit little-endian ELF file."""
    if data[:4] != b"\x7fELF" or data[4] != 2 or data[5] != 1:
        sys.exit("not a 64-bit little-endian ELF file")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)
    headers = [struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)]
    names_offset = headers[shstrndx][4]
    for h in headers:
        start = names_offset + h[0]
        if data[start:data.index(b"\0", start)].decode() == name:
            return h[4], h[5]
    sys.exit(f"no {name} section")


def entries(data, start, end):
    """Yields (container index, entry offset, header size, payload size, kind, arch); checks the section is consumed exactly."""
    position, container = start, 0
    while position < end:
        if data[position:position + 8] == bytes(8):  # alignment padding between containers
            position += 8
            continue
        magic, version, header_size, size = struct.unpack_from("<IHHQ", data, position)
        if magic != MAGIC or version != 1:
            sys.exit(f"no fatbinary container at section offset {position - start:#x} (magic {magic:#x})")
        entry, container_end = position + header_size, position + header_size + size
        if container_end > end:
            sys.exit(f"container {container} runs past the section")
        while entry < container_end:
            kind, _, entry_header, payload = struct.unpack_from("<HHII", data, entry)
            arch, = struct.unpack_from("<I", data, entry + 28)
            if entry_header < 64 or entry + entry_header + payload > container_end:
                sys.exit(f"bad entry header at {entry:#x}")
            yield container, entry, entry_header, payload, kind, arch
            entry += entry_header + payload
        if entry != container_end:
            sys.exit(f"container {container} entries end at {entry:#x}, not {container_end:#x}")
        position, container = container_end, container + 1
    if position != end:
        sys.exit("the walk did not end at the section end")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("src")
    parser.add_argument("dst")
    parser.add_argument("--arch", type=int, required=True, help="sm architecture to keep, e.g. 90 for H100/H200")
    args = parser.parse_args()

    data = bytearray(open(args.src, "rb").read())
    offset, size = elf_section(data, ".nv_fatbin")
    kept = zeroed = kept_bytes = zeroed_bytes = 0
    usable = {}
    kept_hash = hashlib.sha256()
    for container, entry, header, payload, kind, arch in list(entries(data, offset, offset + size)):
        keep = kind == PTX or arch == args.arch
        usable[container] = usable.get(container, False) or keep
        body = slice(entry + header, entry + header + payload)
        if keep:
            kept, kept_bytes = kept + 1, kept_bytes + payload
            kept_hash.update(data[body])
        else:
            zeroed, zeroed_bytes = zeroed + 1, zeroed_bytes + payload
            data[body] = bytes(payload)
    open(args.dst, "wb").write(data)

    unusable = sum(1 for ok in usable.values() if not ok)
    print(f"{args.src}: .nv_fatbin {size / 1e6:.1f} MB in {len(usable)} containers; kept {kept} entries for sm_{args.arch} "
          f"or PTX ({kept_bytes / 1e6:.1f} MB, sha256 {kept_hash.hexdigest()[:16]}), zeroed {zeroed} ({zeroed_bytes / 1e6:.1f} MB); "
          f"{unusable} containers have no sm_{args.arch} code (unusable on that GPU before and after)")
    if kept == 0:
        sys.exit(f"no sm_{args.arch} code at all: wrong --arch?")


if __name__ == "__main__":
    main()
