using System.Buffers.Binary;
using System.Numerics;
using System.Runtime.CompilerServices;
using Moderation.Streams.Contracts;

namespace Moderation.Streams.Media;

/// <summary>
/// Checks that a JPEG's entropy-coded data holds the whole picture it promises, without decoding pixels: every
/// scan's Huffman symbols are walked (no dequantisation, no IDCT) and must cover every block of the frame before
/// the data ends, and the scans together must finish every coefficient of every component. libjpeg-turbo (inside
/// SkiaSharp) answers a file cut short and closed with an end-of-image marker with <c>Success</c> and invented
/// (grey) blocks, for baseline and progressive files alike, with or without restart markers; the same holds for
/// corrupt Huffman codes. Those are refused here as <c>undecodable-media</c>. Only Huffman-coded sequential
/// (SOF0, SOF1) and progressive (SOF2) frames can be checked; other coding processes (lossless, arithmetic,
/// hierarchical) are refused as <c>unsupported-media</c>. Run after the header's size limits: the work is one
/// pass over the data and the memory one 64-bit word per block of a progressive frame.
/// </summary>
internal static class JpegEntropy
{
    private const int MaxComponents = 4;

    /// <returns>How many scans left whole bytes of data unread after their last block (libjpeg skips them with a
    /// warning; a well-formed file has none: its tests use this to check the walk's bit accounting).</returns>
    /// <exception cref="ModerationException">The picture is incomplete, corrupt or not checkable.</exception>
    public static int Verify(ReadOnlySpan<byte> b)
    {
        int extraneous = 0;
        var dc = new HuffmanTable?[4];
        var ac = new HuffmanTable?[4];
        Frame? frame = null;
        int restartInterval = 0, i = 2;
        while (true)
        {
            if (i >= b.Length || b[i] != 0xFF) throw Undecodable("marker expected");
            while (i < b.Length && b[i] == 0xFF) i++;
            if (i >= b.Length) throw Undecodable("no end of image");
            byte marker = b[i++];
            if (marker == 0xD9) break; // EOI
            if (marker is >= 0xD0 and <= 0xD7 or 0x01) continue;
            if (i + 2 > b.Length) throw Undecodable("segment past the end");
            int length = (b[i] << 8) | b[i + 1];
            if (length < 2 || i + length > b.Length) throw Undecodable("segment past the end");
            var body = b.Slice(i + 2, length - 2);
            i += length;
            switch (marker)
            {
                case 0xC4:
                    ReadHuffmanTables(body, dc, ac);
                    break;
                case 0xDD:
                    if (body.Length < 2) throw Undecodable("short restart interval segment");
                    restartInterval = (body[0] << 8) | body[1];
                    break;
                case 0xC0 or 0xC1 or 0xC2:
                    if (frame is not null) throw Undecodable("more than one frame");
                    frame = Frame.Read(body, progressive: marker == 0xC2);
                    break;
                case >= 0xC3 and <= 0xCF and not (0xC4 or 0xC8 or 0xCC):
                    throw new ModerationException(ErrorCodes.UnsupportedMedia,
                        $"JPEG coding process SOF{marker - 0xC0} (lossless, arithmetic or hierarchical) is not supported: only Huffman-coded baseline, extended and progressive JPEGs are screened");
                case 0xDA:
                    if (frame is null) throw Undecodable("scan before the frame header");
                    i = DecodeScan(b, i, body, frame, dc, ac, restartInterval, ref extraneous);
                    break;
            }
        }
        if (frame is null) throw Undecodable("no frame header");
        frame.CheckComplete();
        return extraneous;
    }

    private static ModerationException Undecodable(string why) =>
        new(ErrorCodes.UndecodableMedia, $"JPEG data is truncated or corrupt ({why})");

    private static void ReadHuffmanTables(ReadOnlySpan<byte> body, HuffmanTable?[] dc, HuffmanTable?[] ac)
    {
        while (!body.IsEmpty)
        {
            if (body.Length < 17) throw Undecodable("short Huffman table");
            int cls = body[0] >> 4, slot = body[0] & 15;
            var counts = body.Slice(1, 16);
            int total = 0;
            foreach (byte c in counts) total += c;
            if (cls > 1 || slot > 3 || total > 256 || body.Length < 17 + total) throw Undecodable("bad Huffman table");
            var table = HuffmanTable.Build(counts, body.Slice(17, total), ac: cls == 1) ?? throw Undecodable("bad Huffman table");
            (cls == 0 ? dc : ac)[slot] = table;
            body = body[(17 + total)..];
        }
    }

    /// <summary>Walks one scan whose entropy-coded data starts at <paramref name="start"/>; answers where the next marker starts.</summary>
    private static int DecodeScan(ReadOnlySpan<byte> b, int start, ReadOnlySpan<byte> header, Frame frame,
        HuffmanTable?[] dcTables, HuffmanTable?[] acTables, int restartInterval, ref int extraneous)
    {
        if (header.Length < 1) throw Undecodable("short scan header");
        int count = header[0];
        if (count is < 1 or > MaxComponents || header.Length < 1 + 2 * count + 3) throw Undecodable("bad scan header");
        Span<int> components = stackalloc int[count];
        var dc = new HuffmanTable?[count];
        var ac = new HuffmanTable?[count];
        for (int n = 0; n < count; n++)
        {
            int c = frame.IndexOf(header[1 + 2 * n]);
            if (c < 0) throw Undecodable("scan names a component the frame lacks");
            components[n] = c;
            dc[n] = dcTables[header[2 + 2 * n] >> 4 & 3];
            ac[n] = acTables[header[2 + 2 * n] & 3];
        }
        int ss = header[1 + 2 * count], se = header[2 + 2 * count], ah = header[3 + 2 * count] >> 4, al = header[3 + 2 * count] & 15;
        if (!frame.Progressive) (ss, se, ah, al) = (0, 63, 0, 0);
        else if (ss > se || se > 63 || ah > 13 || al > 13 || (ss == 0) != (se == 0) || (ss > 0 && count != 1))
            throw Undecodable("bad progressive scan parameters");
        bool needDc = ss == 0 && ah == 0, needAc = se > 0;
        for (int n = 0; n < count; n++)
        {
            if (needDc && dc[n] is null || needAc && ac[n] is null)
                throw Undecodable("scan uses a Huffman table that was never defined");
            frame.Record(components[n], ss, se, ah, al);
        }

        var bits = new BitReader(b, start);
        long mcus = count == 1 ? (long)frame.BlocksWide(components[0]) * frame.BlocksHigh(components[0]) : (long)frame.McusWide * frame.McusHigh;
        ulong[]? nonzero = frame.Progressive && ss > 0 ? frame.NonZero(components[0]) : null;
        int eobrun = 0, restarts = 0;
        for (long mcu = 0; mcu < mcus; mcu++)
        {
            if (restartInterval > 0 && mcu > 0 && mcu % restartInterval == 0)
            {
                if (bits.Overrun) break;
                if (!bits.Restart(restarts++ & 7)) throw Undecodable($"restart marker missing after MCU {mcu} of {mcus}");
                eobrun = 0;
            }
            if (count == 1)
            {
                if (!frame.Progressive) DecodeBlock(ref bits, dc[0]!, ac[0]!);
                else if (ss == 0) DecodeDc(ref bits, dc[0], ah);
                else if (ah == 0) DecodeAcFirst(ref bits, ac[0]!, ss, se, ref eobrun, ref nonzero![mcu]);
                else DecodeAcRefine(ref bits, ac[0]!, ss, se, ref eobrun, ref nonzero![mcu]);
            }
            else
            {
                for (int n = 0; n < count; n++)
                {
                    int blocks = frame.H[components[n]] * frame.V[components[n]];
                    for (int k = 0; k < blocks; k++)
                    {
                        if (frame.Progressive) DecodeDc(ref bits, dc[n], ah);
                        else DecodeBlock(ref bits, dc[n]!, ac[n]!);
                    }
                }
            }
            if (bits.Overrun) throw Undecodable($"scan data ends after MCU {mcu} of {mcus}");
            if (bits.BadCode) throw Undecodable($"invalid Huffman code in MCU {mcu} of {mcus}");
        }
        if (bits.Overrun) throw Undecodable($"scan data ends before its last MCU ({mcus})");
        if (bits.UnreadBits() >= 8) extraneous++;
        return bits.NextMarker();
    }

    /// <summary>A sequential block: the DC difference, then AC run/size symbols to the end of block. Only bit counts
    /// matter here, so each symbol and its magnitude bits are consumed together. A bad code reads as symbol 0 (end of
    /// block), so the loop always ends; overruns and bad codes are looked at once per MCU.</summary>
    private static void DecodeBlock(ref BitReader bits, HuffmanTable dc, HuffmanTable ac)
    {
        bits.Symbol(dc, ac: false);
        for (int k = 1; k < 64; k++)
        {
            int rs = bits.Symbol(ac, ac: true);
            if ((rs & 15) != 0) k += rs >> 4;
            else if (rs == 0xF0) k += 15;
            else return; // end of block
        }
    }

    private static void DecodeDc(ref BitReader bits, HuffmanTable? dc, int ah)
    {
        if (ah != 0)
        {
            bits.Skip(1); // one refinement bit per block
            return;
        }
        bits.Symbol(dc!, ac: false);
    }

    private static void DecodeAcFirst(ref BitReader bits, HuffmanTable ac, int ss, int se, ref int eobrun, ref ulong nonzero)
    {
        if (eobrun > 0)
        {
            eobrun--;
            return;
        }
        for (int k = ss; k <= se; k++)
        {
            int rs = bits.Symbol(ac, ac: true);
            int r = rs >> 4;
            if ((rs & 15) != 0)
            {
                k += r;
                if (k < 64) nonzero |= 1UL << k;
            }
            else if (r == 15) k += 15;
            else
            {
                eobrun = (1 << r) - 1 + (r > 0 ? bits.Get(r) : 0);
                return;
            }
        }
    }

    /// <summary>A refinement scan of AC coefficients: one correction bit for each coefficient already non-zero, as
    /// libjpeg's <c>decode_mcu_AC_refine</c> reads them, so the history of earlier scans decides how many bits there are.</summary>
    private static void DecodeAcRefine(ref BitReader bits, HuffmanTable ac, int ss, int se, ref int eobrun, ref ulong nonzero)
    {
        int k = ss;
        if (eobrun == 0)
        {
            for (; k <= se; k++)
            {
                int rs = bits.Decode(ac);
                int r = rs >> 4, size = rs & 15;
                if (size != 0)
                {
                    // The new coefficient's sign. Its size is always 1: libjpeg warns "bad Huffman code" for any other
                    // size and reads one bit anyway, so such a file is corrupt (Skia still reports success).
                    if (size != 1) bits.MarkBadCode();
                    bits.Skip(1);
                }
                else if (r != 15)
                {
                    eobrun = (1 << r) + (r > 0 ? bits.Get(r) : 0);
                    break;
                }
                // Past the coefficients already non-zero (one correction bit each) and r of those still zero.
                for (; k <= se; k++)
                {
                    if ((nonzero >> k & 1) != 0) bits.Skip(1);
                    else if (--r < 0) break;
                }
                if (size != 0 && k < 64) nonzero |= 1UL << k;
                if (bits.BadCode) return;
            }
        }
        if (eobrun > 0)
        {
            // One correction bit for each coefficient of the rest of the band already non-zero: counted, not looped
            // over, so a run of refinement scans over every block costs one step per block.
            if (k <= se)
            {
                ulong band = (ulong.MaxValue << k) & (ulong.MaxValue >> (63 - se));
                for (int n = BitOperations.PopCount(nonzero & band); n > 0; n -= 16) bits.Skip(Math.Min(n, 16));
            }
            eobrun--;
        }
    }

    /// <summary>The frame header (SOF0–2) and what the scans so far have coded.</summary>
    private sealed class Frame
    {
        private readonly byte[] _ids;
        private readonly int _width, _height, _hMax, _vMax;
        private readonly int[] _approximation; // per component and coefficient: the lowest bit coded so far, -1 none
        private readonly ulong[]?[] _nonzero;

        private Frame(bool progressive, int width, int height, byte[] ids, int[] h, int[] v)
        {
            Progressive = progressive;
            (_width, _height, _ids, H, V) = (width, height, ids, h, v);
            _hMax = h.Max();
            _vMax = v.Max();
            McusWide = (width + 8 * _hMax - 1) / (8 * _hMax);
            McusHigh = (height + 8 * _vMax - 1) / (8 * _vMax);
            _approximation = Enumerable.Repeat(-1, ids.Length * 64).ToArray();
            _nonzero = new ulong[ids.Length][];
        }

        public bool Progressive { get; }
        public int[] H { get; }
        public int[] V { get; }
        public int McusWide { get; }
        public int McusHigh { get; }

        public static Frame Read(ReadOnlySpan<byte> body, bool progressive)
        {
            if (body.Length < 6) throw Undecodable("short frame header");
            int height = (body[1] << 8) | body[2], width = (body[3] << 8) | body[4], count = body[5];
            if (width == 0 || height == 0) throw Undecodable("zero dimensions");
            if (count is < 1 or > MaxComponents || body.Length < 6 + 3 * count) throw Undecodable("bad frame header");
            var ids = new byte[count];
            int[] h = new int[count], v = new int[count];
            for (int c = 0; c < count; c++)
            {
                ids[c] = body[6 + 3 * c];
                h[c] = body[7 + 3 * c] >> 4;
                v[c] = body[7 + 3 * c] & 15;
                if (h[c] is < 1 or > 4 || v[c] is < 1 or > 4) throw Undecodable("bad sampling factors");
            }
            return new Frame(progressive, width, height, ids, h, v);
        }

        public int IndexOf(byte id) => Array.IndexOf(_ids, id);

        public int BlocksWide(int c) => ((_width * H[c] + _hMax - 1) / _hMax + 7) / 8;
        public int BlocksHigh(int c) => ((_height * V[c] + _vMax - 1) / _vMax + 7) / 8;

        /// <summary>Which coefficients of each block of component <paramref name="c"/> are non-zero (bit k: zig-zag position k).</summary>
        public ulong[] NonZero(int c) => _nonzero[c] ??= new ulong[(long)BlocksWide(c) * BlocksHigh(c)];

        /// <summary>Notes that a scan codes coefficients <paramref name="ss"/>–<paramref name="se"/> of component
        /// <paramref name="c"/> from bit <paramref name="ah"/> down to <paramref name="al"/>. In a progressive frame each
        /// scan must continue where the last one over the same coefficients stopped: a refinement whose Ah is not the
        /// previous Al, or an AC scan before the component's DC scan, is what libjpeg calls an inconsistent progression
        /// (a warning, and success from Skia); a first scan over coefficients already coded replaces them silently, so
        /// a progressive viewer shows one picture while the file loads and another when it is complete. All are refused.</summary>
        public void Record(int c, int ss, int se, int ah, int al)
        {
            if (Progressive && ss > 0 && _approximation[c * 64] < 0)
                throw Undecodable($"inconsistent progression: component {_ids[c]} has an AC scan before its DC scan");
            for (int k = ss; k <= se; k++)
            {
                int previous = _approximation[c * 64 + k];
                if (Progressive && (ah == 0 ? previous >= 0 : previous != ah))
                    throw Undecodable(previous < 0
                        ? $"inconsistent progression: component {_ids[c]} coefficient {k} is refined from bit {ah} but was never coded"
                        : $"inconsistent progression: component {_ids[c]} coefficient {k} is coded from bit {ah} but was coded down to bit {previous}");
                _approximation[c * 64 + k] = al;
            }
        }

        /// <summary>Every coefficient of every component coded down to its last bit (a progressive file's last scans present).</summary>
        public void CheckComplete()
        {
            for (int c = 0; c < _ids.Length; c++)
            {
                for (int k = 0; k < 64; k++)
                {
                    int bit = _approximation[c * 64 + k];
                    if (bit == 0) continue;
                    throw Undecodable(bit < 0
                        ? $"component {_ids[c]} coefficient {k} is never coded: scans are missing"
                        : $"component {_ids[c]} coefficient {k} is coded only down to bit {bit}: its refinement scans are missing");
                }
            }
        }
    }

    /// <summary>A canonical Huffman code (ITU T.81 annex C): 9-bit look-up for short codes, code ranges for the rest.</summary>
    private sealed class HuffmanTable
    {
        public const int LookupBits = 9;
        public readonly ushort[] Lookup = new ushort[1 << LookupBits]; // (length << 8) | symbol; 0 = longer code
        public readonly ushort[] WithBits = new ushort[1 << LookupBits]; // the same, length plus the magnitude bits that follow
        public readonly int[] MaxCode = new int[17]; // last code of each length, -1 when none
        public readonly int[] Offset = new int[17]; // symbol index = code + Offset[length]
        public byte[] Symbols = [];

        public static HuffmanTable? Build(ReadOnlySpan<byte> counts, ReadOnlySpan<byte> symbols, bool ac)
        {
            var t = new HuffmanTable { Symbols = symbols.ToArray() };
            int code = 0, index = 0;
            for (int length = 1; length <= 16; length++)
            {
                int n = counts[length - 1];
                t.Offset[length] = index - code;
                t.MaxCode[length] = n == 0 ? -1 : code + n - 1;
                for (int j = 0; j < n; j++, code++, index++)
                {
                    if (code >= 1 << length) return null; // more codes than the length allows
                    if (length <= LookupBits)
                    {
                        int first = code << (LookupBits - length);
                        t.Lookup.AsSpan(first, 1 << (LookupBits - length)).Fill((ushort)(length << 8 | symbols[index]));
                        int size = ac ? symbols[index] & 15 : symbols[index];
                        if (size <= 16) t.WithBits.AsSpan(first, 1 << (LookupBits - length)).Fill((ushort)((length + size) << 8 | symbols[index]));
                    }
                }
                code <<= 1;
            }
            return t;
        }
    }

    /// <summary>
    /// Bits of one scan's entropy-coded data (stuffed <c>FF 00</c> read as <c>FF</c>). At a marker it supplies zero
    /// bits as libjpeg does, and notes an <see cref="Overrun"/> when any of them is actually used.
    /// </summary>
    private ref struct BitReader(ReadOnlySpan<byte> data, int position)
    {
        private readonly ReadOnlySpan<byte> _data = data;
        private int _position = position;
        private ulong _buffer;
        private int _bits, _padding, _marker = -1;

        /// <summary>Some bit used so far was one of the zeros supplied past the data (sticky: once past the data, every
        /// later bit is supplied too, and the supplied bits are the last in the buffer).</summary>
        public readonly bool Overrun => _bits < _padding;

        public bool BadCode { get; private set; }

        /// <summary>A symbol the table has but the scan cannot use (libjpeg's <c>JWRN_HUFF_BAD_CODE</c>).</summary>
        public void MarkBadCode() => BadCode = true;

        [MethodImpl(MethodImplOptions.NoInlining)]
        private void Fill()
        {
            // Eight bytes at a time while none of them is 0xFF (stuffing or a marker): most of the data.
            if (_marker < 0 && _position + 8 <= _data.Length)
            {
                ulong word = BinaryPrimitives.ReadUInt64BigEndian(_data[_position..]);
                ulong inverted = ~word; // a 0xFF byte is a zero byte here
                if (((inverted - 0x0101010101010101UL) & ~inverted & 0x8080808080808080UL) == 0)
                {
                    int take = (64 - _bits) >> 3;
                    _buffer = take == 8 ? word : _buffer << (take * 8) | word >> (64 - take * 8);
                    _position += take;
                    _bits += take * 8;
                    return;
                }
            }
            while (_bits <= 56)
            {
                int value = 0;
                if (_marker < 0)
                {
                    if (_position >= _data.Length) _marker = _data.Length;
                    else if (_data[_position] != 0xFF) value = _data[_position++];
                    else
                    {
                        int next = _position + 1;
                        while (next < _data.Length && _data[next] == 0xFF) next++;
                        if (next < _data.Length && _data[next] == 0x00)
                        {
                            value = 0xFF;
                            _position = next + 1;
                        }
                        else _marker = _position;
                    }
                }
                if (_marker >= 0) _padding += 8;
                _buffer = _buffer << 8 | (uint)value;
                _bits += 8;
            }
        }

        private void Consume(int n) => _bits -= n;

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Get(int n)
        {
            if (_bits < n) Fill();
            int value = (int)(_buffer >> (_bits - n)) & ((1 << n) - 1);
            Consume(n);
            return value;
        }

        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public void Skip(int n)
        {
            if (_bits < n) Fill();
            Consume(n);
        }

        /// <summary>The next symbol and the magnitude bits after it (as many as its size: the symbol itself for DC, its
        /// low 4 bits for AC), consumed together.</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Symbol(HuffmanTable table, bool ac)
        {
            if (_bits < 32) Fill();
            int entry = table.WithBits[(int)(_buffer >> (_bits - HuffmanTable.LookupBits)) & ((1 << HuffmanTable.LookupBits) - 1)];
            if (entry != 0)
            {
                _bits -= entry >> 8; // at most 9 + 16 bits, and at least 32 are buffered
                return entry & 0xFF;
            }
            int symbol = Decode(table);
            int size = ac ? symbol & 15 : symbol;
            if (size > 16)
            {
                BadCode = true; // a DC size no 8- or 12-bit JPEG has
                return 0;
            }
            if (_bits < size) Fill();
            _bits -= size;
            return symbol;
        }

        /// <summary>The next symbol; 0 with <see cref="BadCode"/> set for a code the table lacks (libjpeg warns and invents zeros).</summary>
        [MethodImpl(MethodImplOptions.AggressiveInlining)]
        public int Decode(HuffmanTable table)
        {
            if (_bits < 16) Fill();
            int peek = (int)(_buffer >> (_bits - 16)) & 0xFFFF;
            int entry = table.Lookup[peek >> (16 - HuffmanTable.LookupBits)];
            if (entry != 0)
            {
                Consume(entry >> 8);
                return entry & 0xFF;
            }
            for (int length = HuffmanTable.LookupBits + 1; length <= 16; length++)
            {
                int code = peek >> (16 - length);
                if (code <= table.MaxCode[length])
                {
                    Consume(length);
                    return table.Symbols[code + table.Offset[length]];
                }
            }
            BadCode = true;
            return 0;
        }

        /// <summary>Drops the bits left before a restart marker and reads the marker, which must be RST<paramref name="n"/>.</summary>
        public bool Restart(int n)
        {
            int at = NextMarker();
            int code = at + 1;
            while (code < _data.Length && _data[code] == 0xFF) code++;
            if (code >= _data.Length || _data[code] != 0xD0 + n) return false;
            (_position, _buffer, _bits, _padding, _marker) = (code + 1, 0, 0, 0, -1);
            return true;
        }

        /// <summary>Bits of data left between the last one used and the next marker (stuffed bytes counted as two).</summary>
        public readonly int UnreadBits()
        {
            if (_marker >= 0) return Math.Max(0, _bits - _padding);
            int i = _position;
            while (i < _data.Length && !(_data[i] == 0xFF && i + 1 < _data.Length && _data[i + 1] != 0x00)) i++;
            return _bits + 8 * (i - _position);
        }

        /// <summary>Where the marker after the data read so far starts (bytes between the last symbol and it are skipped, as libjpeg does).</summary>
        public int NextMarker()
        {
            if (_marker >= 0) return _marker;
            int i = _position;
            while (true)
            {
                int ff = _data[i..].IndexOf((byte)0xFF);
                if (ff < 0) return _data.Length;
                i += ff;
                int next = i + 1;
                while (next < _data.Length && _data[next] == 0xFF) next++;
                if (next < _data.Length && _data[next] == 0x00)
                {
                    i = next + 1;
                    continue;
                }
                return i;
            }
        }
    }
}
