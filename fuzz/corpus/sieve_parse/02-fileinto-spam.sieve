require "fileinto";
if header :contains "X-Spam-Status" "Yes" { fileinto "Junk"; stop; }
if header :contains "subject" "[dev]" { fileinto "Lists/dev"; }
