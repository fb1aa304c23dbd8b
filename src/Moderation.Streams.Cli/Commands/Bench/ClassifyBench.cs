using System.CommandLine;
using System.Diagnostics;
using System.Text.Json;
using Moderation.Streams.Media;
using SkiaSharp;

namespace Moderation.Streams.Cli.Commands.Bench;

/// <summary>
/// <c>bench classify --nsfwjs PATH</c>: the original nsfwjs (TF.js in node, <c>tools/nsfwjs-convert/reference.js</c>,
/// WASM backend by default) and our <c>moderation classify</c>, each run once as a process on the same generated PNGs
/// (start-up and model load included, all cores), one after the other; prints both times, the ratio, and how
/// closely the scores agree (top label, largest difference of a score).
/// </summary>
internal static class ClassifyBench
{
    public static Command Create()
    {
        var nsfwjs = new Option<FileInfo>("--nsfwjs")
        {
            Description = "tools/nsfwjs-convert/reference.js, with its node_modules installed (npm ci in that folder)",
            Required = true,
        };
        nsfwjs.Validators.Add(r => { if (r.GetValueOrDefault<FileInfo>() is { Exists: false } f) r.AddError($"--nsfwjs: no such file: {f.FullName}"); });
        var node = new Option<string>("--node") { Description = "The node executable", DefaultValueFactory = _ => "node" };
        var backend = new Option<string>("--backend") { Description = "nsfwjs's TF.js backend: wasm or cpu", DefaultValueFactory = _ => "wasm" };
        backend.AcceptOnlyFromAmong("wasm", "cpu");
        var images = new Option<int>("--images") { Description = "Distinct 640x480 / 480x640 PNGs generated for the run", DefaultValueFactory = _ => 200 };
        images.Validators.Add(r => { if (r.GetValueOrDefault<int>() is < 1 or > 5000) r.AddError("--images must be 1 to 5000"); });
        var command = new Command("classify", "moderation classify vs the original nsfwjs (TF.js in node) as processes on the same PNGs: RATIO classify_vs_nsfwjs, score agreement")
        {
            nsfwjs, node, backend, images,
        };
        command.SetAction(parse => Run(parse.GetValue(nsfwjs)!.FullName, parse.GetValue(node)!, parse.GetValue(backend)!, parse.GetValue(images), Console.Out));
        return command;
    }

    private static int Run(string script, string node, string backend, int count, TextWriter output)
    {
        var folder = Directory.CreateTempSubdirectory("bench-classify-");
        try
        {
            var files = new List<string>();
            for (int i = 0; i < count; i++)
            {
                bool portrait = i % 2 == 1;
                using var picture = SampleImages.Render(7000 + i, portrait ? 480 : 640, portrait ? 640 : 480);
                var path = Path.Combine(folder.FullName, $"picture-{i:0000}.png");
                File.WriteAllBytes(path, SampleImages.Encode(picture, SKEncodedImageFormat.Png));
                files.Add(path);
            }
            output.WriteLine($"images: {count} generated PNGs, 640x480 and 480x640; each side one process on all of them (start-up and model load included), {Environment.ProcessorCount} cores");

            string json = Path.Combine(folder.FullName, "nsfwjs.json");
            var (nsfwSeconds, nsfwExit, _, nsfwError) = Time(node, [script, "--backend", backend, "--out", json, .. files]);
            if (nsfwExit != 0 || !File.Exists(json))
            {
                Console.Error.WriteLine($"moderation bench classify: nsfwjs exited {nsfwExit}: {Last(nsfwError)}");
                return ExitCodes.Failure;
            }
            string[] ours = File.Exists(Path.Combine(AppContext.BaseDirectory, "moderation"))
                ? [Path.Combine(AppContext.BaseDirectory, "moderation")]
                : [ModerationProcess.DotnetHost, ModerationProcess.ModerationDll];
            var (ourSeconds, ourExit, ourLines, ourError) = Time(ours[0], [.. ours.Skip(1), "classify", "--device", "cpu", .. files]);
            if (ourExit != 0 || ourLines.Count != files.Count)
            {
                Console.Error.WriteLine($"moderation bench classify: moderation classify exited {ourExit} with {ourLines.Count} lines for {files.Count} files: {Last(ourError)}");
                return ExitCodes.Failure;
            }

            // Agreement: nsfwjs's scores by file name against ours.
            using var reference = JsonDocument.Parse(File.ReadAllText(json));
            var labels = reference.RootElement.GetProperty("labels").EnumerateArray().Select(l => l.GetString()!).ToArray();
            var expected = reference.RootElement.GetProperty("models")[0].GetProperty("images").EnumerateArray()
                .ToDictionary(e => Path.GetFileName(e.GetProperty("file").GetString()!), e => e.GetProperty("scores").EnumerateArray().Select(v => v.GetDouble()).ToArray());
            int sameTop = 0;
            double maxDelta = 0;
            foreach (var line in ourLines)
            {
                using var ourJson = JsonDocument.Parse(line);
                var name = Path.GetFileName(ourJson.RootElement.GetProperty("path").GetString()!);
                var scores = ourJson.RootElement.GetProperty("scores");
                var mine = labels.Select(l => scores.GetProperty(l).GetDouble()).ToArray();
                if (!expected.TryGetValue(name, out var theirs))
                {
                    Console.Error.WriteLine($"moderation bench classify: nsfwjs gave no scores for {name}");
                    return ExitCodes.Failure;
                }
                if (Array.IndexOf(mine, mine.Max()) == Array.IndexOf(theirs, theirs.Max())) sameTop++;
                for (int k = 0; k < mine.Length; k++) maxDelta = Math.Max(maxDelta, Math.Abs(mine[k] - theirs[k]));
            }

            output.WriteLine(FormattableString.Invariant($"nsfwjs ({backend}, node):  {nsfwSeconds:0.00} s ({count / nsfwSeconds:0.0} images/s)"));
            output.WriteLine(FormattableString.Invariant($"moderation classify (cpu): {ourSeconds:0.00} s ({count / ourSeconds:0.0} images/s)"));
            output.WriteLine(FormattableString.Invariant($"agreement: top label equal on {sameTop} of {count}; largest score difference {maxDelta:0.######}"));
            var report = new BenchReport();
            report.Ratio("classify_vs_nsfwjs", nsfwSeconds / ourSeconds, 10);
            return report.Print(output);
        }
        catch (System.ComponentModel.Win32Exception e)
        {
            Console.Error.WriteLine($"moderation bench classify: could not start {node}: {e.Message}");
            return ExitCodes.Failure;
        }
        finally
        {
            folder.Delete(recursive: true);
        }
    }

    private static string Last(string error) =>
        error.Split('\n', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries).LastOrDefault() ?? "";

    private static (double Seconds, int Exit, List<string> Lines, string Error) Time(string program, IEnumerable<string> args)
    {
        var info = new ProcessStartInfo(program) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var arg in args) info.ArgumentList.Add(arg);
        var timer = Stopwatch.StartNew();
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"could not start {program}");
        var error = process.StandardError.ReadToEndAsync();
        var lines = new List<string>();
        while (process.StandardOutput.ReadLine() is { } line) lines.Add(line);
        process.WaitForExit();
        return (timer.Elapsed.TotalSeconds, process.ExitCode, lines, error.Result);
    }
}
