require ["encoded-character", "fileinto"];
if header :contains "subject" "${hex:4d 65 65 74}" { fileinto "enc-${unicode:263a}"; }
if header :contains "subject" "Gr${unicode:fc}${unicode:00DF}e" { fileinto "enc-gruesse"; }
fileinto "plain${hex:2e}dot";
