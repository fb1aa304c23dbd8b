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
    public static async Task<int> ImportAsync(RedisBankStore hashes, string kind, string bank, FileInfo path, bool replace, string? source,
        string progress, int chunkRows)
    {
        BankNames.Validate(bank);
        var store = new RedisDigestBankStore(hashes.Connection);
        var (code, read) = await StreamingBankImport.RunAsync(path, progress, chunkRows,
            reader => DigestCsv.Rows(reader, kind, source ?? (path.Name == "-" ? "stdin" : path.Name), DateTimeOffset.UtcNow),
            row => DigestCsv.Entry(bank, kind, row),
            (chunk, first) => store.ImportAsync(bank, kind, chunk, first && replace),
            _ => false);
        if (read is null) return code;
        Console.Out.WriteLine($"imported {read.Rows} {kind} digests into {bank} (version {read.Version})" +
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
