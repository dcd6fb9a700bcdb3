require ["reject", "fileinto"];
if header :contains "subject" "lunch" { fileinto "Lunch"; reject "no lunch"; }
