using System.Buffers.Binary;

namespace Moderation.Streams.Media.Video;

/// <summary>
/// Moves an MP4/MOV's <c>moov</c> box in front of its media data, as <c>-movflags +faststart</c> would have.
/// ffmpeg reads videos from a pipe (it never opens a path) and cannot seek back on a pipe: a file whose index
/// comes after its samples (what phones and ffmpeg write by default) is unreadable that way once it is larger than
/// ffmpeg's probe buffer. The bytes are in memory anyway, so the boxes are reordered and every chunk offset
/// (<c>stco</c>/<c>co64</c>) is shifted to match. Anything unexpected leaves the bytes as they are.
/// </summary>
public static class Mp4Faststart
{
    private static readonly HashSet<string> Containers = ["moov", "trak", "mdia", "minf", "stbl", "edts", "dinf"];

    /// <summary>The bytes with <c>moov</c> before the first <c>mdat</c>; the input itself when it already is, or
    /// when the boxes cannot be walked safely (ffmpeg then judges the file).</summary>
    public static byte[] Apply(byte[] file)
    {
        ArgumentNullException.ThrowIfNull(file);
        long mdatStart = -1, moovStart = -1, moovEnd = -1;
        long offset = 0;
        while (offset < file.Length)
        {
            if (!TryReadBox(file, offset, file.Length, out var type, out _, out long size)) return file;
            if (type == "mdat" && mdatStart < 0) mdatStart = offset;
            if (type == "moov")
            {
                if (moovStart >= 0) return file; // two indexes: not ours to pick
                moovStart = offset;
                moovEnd = offset + size;
            }
            offset += size;
        }
        if (moovStart < 0 || mdatStart < 0 || moovStart < mdatStart || moovEnd - moovStart > int.MaxValue) return file;

        var moov = file.AsSpan((int)moovStart, (int)(moovEnd - moovStart)).ToArray();
        long shift = moov.Length;
        // Samples between the first mdat and the moov move forward by the moov's size; those after it stay put.
        bool Relocate(ulong position, out ulong moved)
        {
            moved = position >= (ulong)mdatStart && position < (ulong)moovStart ? position + (ulong)shift : position;
            return position < (ulong)moovStart || position >= (ulong)moovEnd;
        }
        if (!PatchOffsets(moov, 0, moov.Length, Relocate)) return file;

        var result = new byte[file.Length];
        var output = result.AsSpan();
        file.AsSpan(0, (int)mdatStart).CopyTo(output);
        moov.CopyTo(output[(int)mdatStart..]);
        file.AsSpan((int)mdatStart, (int)(moovStart - mdatStart)).CopyTo(output[(int)(mdatStart + shift)..]);
        file.AsSpan((int)moovEnd).CopyTo(output[(int)moovEnd..]);
        return result;
    }

    private delegate bool Relocator(ulong position, out ulong moved);

    private static bool PatchOffsets(byte[] buffer, long start, long end, Relocator relocate)
    {
        long offset = start;
        // Children of moov start after its 8-byte header.
        if (start == 0)
        {
            if (!TryReadBox(buffer, 0, end, out _, out int header, out _)) return false;
            offset = header;
        }
        while (offset < end)
        {
            if (!TryReadBox(buffer, offset, end, out var type, out int header, out long size)) return false;
            long body = offset + header;
            if (Containers.Contains(type))
            {
                if (!PatchOffsets(buffer, body, offset + size, relocate)) return false;
            }
            else if (type is "stco" or "co64")
            {
                int width = type == "stco" ? 4 : 8;
                if (size - header < 8) return false;
                long count = BinaryPrimitives.ReadUInt32BigEndian(buffer.AsSpan((int)body + 4, 4));
                if (count * width > size - header - 8) return false;
                for (long i = 0; i < count; i++)
                {
                    var slot = buffer.AsSpan((int)(body + 8 + i * width), width);
                    ulong position = width == 4 ? BinaryPrimitives.ReadUInt32BigEndian(slot) : BinaryPrimitives.ReadUInt64BigEndian(slot);
                    if (!relocate(position, out ulong moved)) return false; // an offset into the moov itself
                    if (width == 4)
                    {
                        if (moved > uint.MaxValue) return false;
                        BinaryPrimitives.WriteUInt32BigEndian(slot, (uint)moved);
                    }
                    else
                    {
                        BinaryPrimitives.WriteUInt64BigEndian(slot, moved);
                    }
                }
            }
            offset += size;
        }
        return true;
    }

    /// <summary>Reads a box header at <paramref name="offset"/>; false when it does not fit before <paramref name="end"/>.</summary>
    private static bool TryReadBox(byte[] buffer, long offset, long end, out string type, out int header, out long size)
    {
        type = "";
        header = 8;
        size = 0;
        if (end - offset < 8) return false;
        var span = buffer.AsSpan((int)offset);
        size = BinaryPrimitives.ReadUInt32BigEndian(span);
        type = System.Text.Encoding.ASCII.GetString(span.Slice(4, 4));
        if (size == 1)
        {
            if (end - offset < 16) return false;
            ulong large = BinaryPrimitives.ReadUInt64BigEndian(span.Slice(8, 8));
            if (large > long.MaxValue) return false;
            size = (long)large;
            header = 16;
        }
        else if (size == 0)
        {
            size = end - offset;
        }
        return size >= header && size <= end - offset;
    }
}
