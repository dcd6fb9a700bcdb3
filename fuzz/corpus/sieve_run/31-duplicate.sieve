require ["duplicate", "fileinto"];
if duplicate { fileinto "seen-before"; } else { fileinto "first-time"; }
if duplicate :header "subject" :seconds 60 { discard; }
