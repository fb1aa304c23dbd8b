using System.Runtime.InteropServices;
using System.Security.Cryptography;
using Moderation.Streams.Hashing;

namespace Moderation.Streams.Worker;

/// <summary>
/// What the worker already knows about an exact byte-for-byte duplicate: SHA-256 of the encoded file → its PDQ hash and
/// quality (and the eight dihedral hashes when the banks match them). A picture uploaded again skips decode and PDQ
/// and goes straight to the banks and the decision cache; it is decoded only if the model must still see it. PDQ of the
/// same bytes under the same decode limits is always the same, so nothing about the decision changes. SHA-256, not a
/// faster non-cryptographic hash: a crafted collision would let a picture borrow another's hash.
/// </summary>
/// <remarks>Bounded: two generations of at most <c>capacity / 2</c> entries each; a full young generation becomes
/// the old one and the old one is dropped (a hit in the old generation moves to the young one).</remarks>
public sealed class ExactDuplicates
{
    private readonly int _generation;
    private readonly object _gate = new();
    private Dictionary<Digest, Entry> _young = [];
    private Dictionary<Digest, Entry> _old = [];

    public ExactDuplicates(int capacity)
    {
        ArgumentOutOfRangeException.ThrowIfLessThan(capacity, 2);
        _generation = capacity / 2;
    }

    /// <summary>SHA-256 of the encoded bytes.</summary>
    [StructLayout(LayoutKind.Sequential)]
    public readonly record struct Digest(ulong A, ulong B, ulong C, ulong D);

    public readonly record struct Entry(PdqResult Pdq, PdqDihedral? Dihedral);

    public static Digest Of(ReadOnlySpan<byte> encoded)
    {
        Span<byte> hash = stackalloc byte[SHA256.HashSizeInBytes];
        SHA256.HashData(encoded, hash);
        var words = MemoryMarshal.Cast<byte, ulong>(hash);
        return new Digest(words[0], words[1], words[2], words[3]);
    }

    /// <summary>Entries held now (at most the capacity).</summary>
    public int Count { get { lock (_gate) return _young.Count + _old.Count; } }

    public bool TryGet(Digest digest, out Entry entry)
    {
        lock (_gate)
        {
            if (_young.TryGetValue(digest, out entry)) return true;
            if (!_old.Remove(digest, out entry)) return false;
            AddLocked(digest, entry);
            return true;
        }
    }

    public void Add(Digest digest, Entry entry)
    {
        lock (_gate) AddLocked(digest, entry);
    }

    private void AddLocked(Digest digest, Entry entry)
    {
        if (_young.Count >= _generation && !_young.ContainsKey(digest))
        {
            _old = _young;
            _young = new Dictionary<Digest, Entry>(_generation);
        }
        _young[digest] = entry;
    }
}
