using System.Runtime.InteropServices;

namespace Moderation.Streams.Hashing.Banks;

/// <summary>
/// One block of native memory, 2 MiB aligned and, on Linux, marked <c>MADV_HUGEPAGE</c> before it is first
/// written, so the kernel backs it with 2 MiB pages (transparent huge pages in <c>madvise</c> or <c>always</c>
/// mode). A search that reads a few hundred random places of a few hundred MiB then costs cache misses only:
/// with 4 KiB pages nearly every one of them is also a TLB miss and a page walk. Freed by the finalizer of the
/// owner (<see cref="Free"/>); the owner keeps itself alive while it reads the block.
/// </summary>
internal static unsafe partial class HugePageMemory
{
    public const long PageSize = 2 << 20;
    private const int MadvHugepage = 14;

    /// <summary>Blocks smaller than this are not worth a huge page.</summary>
    private const long MinimumHugeBlock = 4 << 20;

    /// <summary>Whether the kernel accepted the advice for the last block (diagnostics).</summary>
    public static bool LastAdvised { get; private set; }

    /// <param name="prefault">Fault the block in before returning (see <see cref="Prefault"/>); false leaves it to the
    /// caller, e.g. to fault it in on another thread while it does something else.</param>
    public static void* Allocate(long bytes, bool prefault = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegativeOrZero(bytes);
        long rounded = (bytes + PageSize - 1) / PageSize * PageSize;
        void* block = NativeMemory.AlignedAlloc((nuint)rounded, (nuint)PageSize);
        LastAdvised = false;
        if (rounded >= MinimumHugeBlock && OperatingSystem.IsLinux())
        {
            try
            {
                LastAdvised = Madvise(block, (nuint)rounded, MadvHugepage) == 0;
            }
            catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
            {
                // No libc to ask: 4 KiB pages, slower but correct.
            }
        }
        GC.AddMemoryPressure(rounded);
        if (prefault && rounded >= MinimumHugeBlock) Prefault((byte*)block, rounded);
        return block;
    }

    /// <summary>Bytes one thread faults in before the next takes over (a few huge pages).</summary>
    private const long PrefaultStripe = 16 * PageSize;

    // Faults the block in, page by page in address order, on every core, before anything is written to it at random. The
    // writes that follow (an index build scatters entries over the whole block) would otherwise fault it in random order,
    // one page at a time: measured on a 2-core VM, 2.5 GiB took 3.5 s to fault in this way and then 0.9 s to scatter
    // into, against 9.3 s for the scatter alone (the kernel finding, zeroing and mapping 2 MiB pages, and a hypervisor
    // backing guest memory lazily, cost most when the faults come from everywhere at once).
    /// <summary>Faults the block in from the calling thread alone (see <see cref="Prefault"/>).</summary>
    public static void PrefaultOnThisThread(byte* block, long bytes)
    {
        for (byte* page = block, end = block + bytes; page < end; page += 4096) *page = 0;
    }

    public static void Prefault(byte* block, long bytes)
    {
        long stripes = (bytes + PrefaultStripe - 1) / PrefaultStripe;
        Parallel.For(0L, stripes, s =>
        {
            long from = s * PrefaultStripe;
            PrefaultOnThisThread(block + from, Math.Min(bytes, from + PrefaultStripe) - from);
        });
    }

    public static void Free(void* block, long bytes)
    {
        if (block == null) return;
        NativeMemory.AlignedFree(block);
        GC.RemoveMemoryPressure((bytes + PageSize - 1) / PageSize * PageSize);
    }

    [LibraryImport("libc", EntryPoint = "madvise")]
    private static partial int Madvise(void* address, nuint length, int advice);
}
