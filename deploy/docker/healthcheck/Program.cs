// Exit 0 when the worker on this container answers GET /healthz with 2xx within two seconds, 1 otherwise.
// Port: the first argument, else Telemetry__Port, else 9464 (the contract's default).
var port = args.Length > 0 ? args[0] : Environment.GetEnvironmentVariable("Telemetry__Port") ?? "9464";
using var http = new HttpClient { Timeout = TimeSpan.FromSeconds(2) };
try
{
    using var response = await http.GetAsync($"http://127.0.0.1:{port}/healthz");
    Console.WriteLine($"healthz {(int)response.StatusCode}");
    return response.IsSuccessStatusCode ? 0 : 1;
}
catch (Exception e) when (e is HttpRequestException or TaskCanceledException)
{
    Console.WriteLine($"healthz unreachable: {e.Message}");
    return 1;
}
