require ["vacation-seconds"];
vacation :seconds 172800 :from "user@example.test" "Back soon.";
