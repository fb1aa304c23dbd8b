using System.Text;
using System.Text.Json;
using Moderation.Streams.Contracts;
using Moderation.Streams.Hashing.Banks;
using Moderation.Streams.Redis.Banks;
using Moderation.Streams.Redis.DigestBanks;

namespace Moderation.Streams.Cli.Commands;

/// <summary>The <c>bank</c> verbs for exact file-hash banks (<c>--kind md5|sha256</c>): the same verbs as for PDQ banks, on
/// <see cref="RedisDigestBankStore"/>; rows <c>digest[,id[,label[,source[,added_at]]]]</c> or an HMA / ThreatExchange
/// export (<see cref="DigestCsv"/>).</summary>
internal static class DigestBankVerbs
{
    public static async Task<int> ImportAsync(RedisBankStore hashes, string kind, string bank, FileInfo path, bool replace, string? source)
    {
        BankNames.Validate(bank);
        BankCsv.ReadResult<DigestEntry> read;
        try
        {
            // A named file must be a regular file (a FIFO would block, /dev/zero never end): refused before Redis is written.
            using var reader = path.Name == "-"
                ? new StreamReader(Console.OpenStandardInput())
                : new StreamReader(new FileStream(RegularFile.OpenRead(path.FullName, ErrorCodes.UnsupportedMedia), FileAccess.Read));
            read = DigestCsv.Read(reader, bank, kind, source ?? (path.Name == "-" ? "stdin" : path.Name), DateTimeOffset.UtcNow);
        }
        catch (ModerationException e)
        {
            Console.Error.WriteLine($"moderation bank import: {path}: {e.Code}: {e.Message}");
            return ExitCodes.Failure;
        }
        catch (BankCsvHeaderException e)
        {
            Console.Error.WriteLine($"moderation bank import: {path}: {e.Message}");
            return ExitCodes.Usage;
        }
        foreach (var error in read.Errors) Console.Error.WriteLine($"moderation bank import: line {error.Line}: {error.Message}");
        if (read.Errors.Count > 0) return ExitCodes.Failure;
        long version = await new RedisDigestBankStore(hashes.Connection).ImportAsync(bank, kind, read.Entries, replace);
        Console.Out.WriteLine($"imported {read.Entries.Count} {kind} digests into {bank} (version {version})" +
            (read.Layout is { Format: not BankCsvLayout.Moderation } layout ? $" from {BankCommand.Describe(layout)}" : "") +
            (read.SkippedOtherSignalTypes > 0 ? $"; skipped {read.SkippedOtherSignalTypes} rows of other signal types" : "") +
            (read.Layout is { Ignored.Count: > 0 } l ? $"; ignored columns: {string.Join(",", l.Ignored)}" : ""));
        return ExitCodes.Ok;
    }

    public static async Task<int> ExportAsync(RedisBankStore hashes, string kind, string bank, FileInfo? path)
    {
        var store = new RedisDigestBankStore(hashes.Connection);
        if (await store.KindOfAsync(bank) is not { } stored || stored != kind)
        {
            Console.Error.WriteLine($"moderation bank export: no {kind} bank {bank} (see 'moderation bank list --kind {kind}')");
            return ExitCodes.Failure;
        }
        var entries = await store.LoadAsync(bank, kind);
        using var writer = path is null ? new StreamWriter(Console.OpenStandardOutput(), new UTF8Encoding(false)) : new StreamWriter(path.FullName, false, new UTF8Encoding(false));
        DigestCsv.Write(writer, entries);
        return ExitCodes.Ok;
    }

    public static async Task<int> ListAsync(RedisBankStore hashes, string kind, bool json)
    {
        foreach (var (name, bankKind, count, version) in (await new RedisDigestBankStore(hashes.Connection).ListAsync()).Where(b => b.Kind == kind))
            Console.Out.WriteLine(json
                ? JsonSerializer.Serialize(new { name, kind = bankKind, count, version })
                : $"{name}\t{count}\tversion {version}");
        return ExitCodes.Ok;
    }

    public static async Task<int> RemoveAsync(RedisBankStore hashes, string kind, string bank, string[] ids, bool all)
    {
        var store = new RedisDigestBankStore(hashes.Connection);
        if (await store.KindOfAsync(bank) is not { } stored || stored != kind)
        {
            Console.Error.WriteLine($"moderation bank remove: no {kind} bank {bank} (see 'moderation bank list --kind {kind}')");
            return ExitCodes.Failure;
        }
        if (all)
        {
            await store.DeleteAsync(bank);
            Console.Out.WriteLine($"deleted bank {bank}");
            return ExitCodes.Ok;
        }
        return BankCommand.ReportRemoved(bank, await store.RemoveAsync(bank, ids), ids);
    }
}
