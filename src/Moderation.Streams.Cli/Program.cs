Console.WriteLine("moderation");
